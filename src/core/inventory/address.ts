/**
 * Ansible's `parse_address`: split an inventory host entry into host and optional port, and
 * tell whether it is a valid hostname, IPv4 or IPv6 address (ranges allowed).
 *
 * Invariants:
 * - Same acceptance as Ansible's regular expressions (`parsing/utils/addresses.py`), since
 *   whether an entry parses decides whether `host:22` is host `host` with port 22 or a host
 *   literally named `host:22`, and whether a `--limit` string is one pattern or a `:` list.
 * - Pure: no I/O.
 */

const NUMERIC_RANGE = String.raw`\[(?:[0-9]+:[0-9]+)(?::[0-9]+)?\]`;
const HEX_RANGE = String.raw`\[(?:[0-9a-f]+:[0-9a-f]+)(?::[0-9]+)?\]`;
const ALNUM_RANGE = String.raw`\[(?:[a-z]:[a-z]|[0-9]+:[0-9]+)(?::[0-9]+)?\]`;
const IPV6_PART = `(?:[0-9a-f]{1,4}|${HEX_RANGE})`;
const IPV4_PART = `(?:[01]?[0-9]{1,2}|2[0-4][0-9]|25[0-5]|${NUMERIC_RANGE})`;
const WORD = String.raw`[\p{L}\p{N}_]`;
const LABEL = `(?:${WORD}|${ALNUM_RANGE})(?:[\\p{L}\\p{N}_-]|${ALNUM_RANGE})*(?<![_-])`;

const BRACKETED_HOSTPORT = /^\[(.+)\]:([0-9]+)$/;
const HOSTPORT = /^((?:[^:[\]]|\[[^\]]*\])*):([0-9]+)$/;
const IPV4 = new RegExp(`^(?:${IPV4_PART}\\.){3}${IPV4_PART}$`, "i");
const P = IPV6_PART;
// Python's pattern is `^alt1|...|altN$` without a group, so `^` binds to the first alternative
// and `$` only to the last; with `re.match` every alternative is anchored at the start and all but
// the last may match a prefix. Reproduced on purpose: it decides what Ansible accepts.
const IPV6 = new RegExp(
  `^(?:(?:${P}:){7}${P}|(?:${P}:){1,6}:|(?:${P}:)(?::${P}){1,6}|(?:${P}:){2}(?::${P}){1,5}|` +
    `(?:${P}:){3}(?::${P}){1,4}|(?:${P}:){4}(?::${P}){1,3}|(?:${P}:){5}(?::${P}){1,2}|` +
    `(?:${P}:){6}(?::${P})|:(?::${P}){1,6}|${P}?::|(?:0:){6}(?:${P}\\.){3}${P}|` +
    `::(?:ffff:)?(?:${P}\\.){3}${P}|(?:0:){5}ffff:(?:${P}\\.){3}${P}$)`,
  "i",
);
const HOSTNAME = new RegExp(`^${LABEL}(?:\\.${LABEL})*$`, "iu");

/** `{host, port}` when Ansible's `parse_address(text, allow_ranges=True)` accepts it, else undefined. */
export function parseAddress(text: string): { host: string; port?: number } | undefined {
  let address = text;
  let port: number | undefined;
  for (const re of [BRACKETED_HOSTPORT, HOSTPORT]) {
    const m = re.exec(address);
    if (m) {
      address = m[1] as string;
      port = Number.parseInt(m[2] as string, 10);
    }
  }
  if (IPV4.test(address) || IPV6.test(address) || HOSTNAME.test(address)) {
    return port === undefined ? { host: address } : { host: address, port };
  }
  return undefined;
}

/** Ansible's IPv4/IPv6 test used for `inventory_hostname_short`. */
export function isIpAddress(name: string): boolean {
  return IPV4.test(name) || IPV6.test(name);
}
