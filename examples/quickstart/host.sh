#!/bin/sh
# A stand-in "server" for the quick start: each host is a directory under
# $OVERHAUL_QUICKSTART_DIR (default .overhaul/quickstart/HOST) holding its config, installed
# package version, backups and boot id. A "reboot" takes the host away for a moment and brings
# it back with a new boot id, the way a real reboot does.
set -eu
host="${OVERHAUL_HOST:?OVERHAUL_HOST is set by Overhaul}"
dir="${OVERHAUL_QUICKSTART_DIR:-.overhaul/quickstart}/$host"
mkdir -p "$dir/backups"
[ -f "$dir/boot_id" ] || cat /proc/sys/kernel/random/uuid > "$dir/boot_id"
[ -f "$dir/version" ] || echo "1.0" > "$dir/version"
[ -f "$dir/app.conf" ] || echo "workers = 4" > "$dir/app.conf"

case "${1:?usage: host.sh COMMAND}" in
  validate-config) grep -q '^workers = [0-9][0-9]*$' "$dir/app.conf" ;;
  backup)          cp "$dir/version" "$dir/backups/version.${OVERHAUL_RUN_ID:-manual}"; cp "$dir/app.conf" "$dir/backups/app.conf.${OVERHAUL_RUN_ID:-manual}" ;;
  has-backup)      [ -f "$dir/backups/version.${OVERHAUL_RUN_ID:-manual}" ] ;;
  upgrade)         echo "${2:?target version}" > "$dir/version"; echo "$(date -u +%FT%TZ) upgrade to $2" >> "$dir/history" ;;
  is-version)      [ "$(cat "$dir/version")" = "${2:?version}" ] ;;
  restore)         cp "$dir/backups/version.${OVERHAUL_RUN_ID:-manual}" "$dir/version"; echo "$(date -u +%FT%TZ) restored $(cat "$dir/version")" >> "$dir/history" ;;
  reboot)
    touch "$dir/down"
    ( sleep "${QUICKSTART_BOOT_SECONDS:-1}"; cat /proc/sys/kernel/random/uuid > "$dir/boot_id"; rm -f "$dir/down" ) >/dev/null 2>&1 &
    ;;
  boot-id)         [ ! -f "$dir/down" ] && cat "$dir/boot_id" ;;
  healthy)         [ ! -f "$dir/down" ] ;;
  *) echo "host.sh: unknown command $1" >&2; exit 2 ;;
esac
