/**
 * What is sent for one command: a fixed exec request line (session-start.ts's BOOTSTRAP, through
 * sudo for become) and a POSIX `sh` script on the channel's stdin with the environment, the
 * working directory, the attempt marker and the command (decision 0013).
 *
 * Invariants:
 * - Nothing of the request is in the exec request line: no variable, no secret, no command. It is
 *   the same for every command (but for become's user and program), so the process list of the
 *   host (world-readable `/proc/<pid>/cmdline`, also sudo's own while the command runs) and
 *   sudo's log show only BOOTSTRAP.
 * - Environment travels as shell-quoted `export` assignments at the top of the script, not as SSH
 *   `env` requests (sshd drops those unless AcceptEnv allows them); exported, it is in the
 *   command's environment (`/proc/<pid>/environ`, readable by its user only), as with the local
 *   transport. Same names as the local transport: the request's env, `OVERHAUL_HOST`, and
 *   `OVERHAUL_VAR_<name>` for every scalar host variable whose name is an identifier. Secret
 *   variables (become and login passwords) are never exported.
 * - The script runs under `/bin/sh`, whatever the login shell, and under sudo the exports are
 *   inside the script, so sudo's env_reset cannot drop them.
 * - Sizes are bounded before anything is sent (`CommandTooLarge`, nothing ran): the command and
 *   each exported `NAME=value` at 128 KiB - 1 (MAX_ARG_STRLEN: the command is one argument of the
 *   host's `timeout`), the whole script at 1 MiB, the exec request line at 8 KiB.
 * - `overhaul_workdir`: `cd` first; when it fails, the script exits 127 with a marker line on
 *   stderr that the transport turns into `unreachable` (the command did not start).
 * - Become is sudo only: `sudo -n` without a password; with one, `sudo -S -k -p SUDO_PROMPT`, and
 *   the password goes on stdin when sudo asks (exec.ts), never on the command line.
 * - The command's stdin is /dev/null (BOOTSTRAP): commands never read the channel's stdin (as with
 *   the local transport), so it can stay open for signals, and neither the script nor the sudo
 *   password can reach the command.
 * - Host-side timeout: with a `limit`, the step's command runs as
 *   `timeout -k <grace> <seconds> /bin/sh -c '<command>'` INSIDE the script, so inside sudo too:
 *   the host itself stops the command and its whole process group (TERM, then KILL after the
 *   grace), whoever it runs as and whatever the SSH server does with "signal" requests (OpenSSH
 *   refuses them for root logins, and a login user cannot signal a command sudo runs as root).
 *   `timeout` is exec'd, so the session's status is its own: 124 when TERM stopped the command,
 *   killed by KILL (or 137 through sudo) when KILL had to, and otherwise the command's status or
 *   the signal that killed it (GNU `timeout` re-raises it). A host whose `timeout` lacks `-k` (old
 *   BusyBox) or has none runs the command as `/bin/sh -c '<command>'` without it (probed on every
 *   command, silently): the client's timer is then all that stops it.
 *   `overhaul_remote_timeout=false` turns it off (the command then runs inline, as without a limit).
 * - Attempt marker: with a `tag` (the engine's attempt), the script first writes its own pid and
 *   start time (`/proc/<pid>/stat`, field 22, where there is one) to `<dir>/<tag>`, where <dir> is
 *   `${TMPDIR:-/tmp}/overhaul-<uid>`, made mode 700 and used only when it is a directory owned by
 *   that user and not a symlink (otherwise no marker is written and the command runs anyway). The
 *   command then runs in that same process (`exec timeout ...`, or inline), so "that pid is alive
 *   with that start time" means "the command still runs". `runningProbe` reads it: `running`,
 *   `ended` (gone, a zombie, or its pid reused; the marker is removed), `none` (no marker (yet):
 *   the script did not start, or has not written it) or `unknown`.
 *   Markers older than a day are removed by each tagged script.
 * - The password is returned separately (`password`) and appears in no string built here.
 * - Pure: no I/O.
 */
import { isSecretVar } from "../../core/inventory/secret-vars.js";
import type { Host } from "../../core/model/fleet.js";
import { ATTEMPT_TAG } from "../../ports/transport.js";
import { BOOTSTRAP, frame, SCRIPT_END, SUDO_PROMPT } from "./session-start.js";
import { unwrap } from "./target.js";

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
export const WORKDIR_MARKER = "overhaul: cannot enter the working directory";

export interface BecomeSettings {
  user: string;
  exe: string;
  password?: string;
}

export interface RemoteCommand {
  /** The exec request's command line: BOOTSTRAP, through sudo for become. Contains no variable. */
  line: string;
  /** The framed script, written on the channel's stdin (session-start.ts). */
  script: Buffer;
  /** The sudo password, written on stdin when sudo asks for it with SUDO_PROMPT. */
  password?: string;
}

/**
 * The largest command, and the largest `NAME=value` exported: Linux's limit for one argument or
 * environment string (MAX_ARG_STRLEN, 128 KiB with its NUL); the command is one when the host's
 * `timeout` runs it.
 */
export const MAX_COMMAND_BYTES = 131_071;
/** The largest script (framed) sent on stdin: the environment, the command quoted, the rest. */
export const MAX_SCRIPT_BYTES = 1_048_576;
/** The largest exec request line (it goes in one SSH packet and one argv). */
const MAX_LINE_BYTES = 8_192;

/** The host-side limit for a command (see the header): whole seconds, as every `timeout` takes them. */
export interface RemoteLimit {
  seconds: number;
  killAfterSeconds: number;
}

export class BecomeError extends Error {}

/** Whether the host enforces a command's timeout itself (`overhaul_remote_timeout`, default true). */
export function remoteTimeoutEnabled(host: Host): boolean {
  const v = unwrap(host.vars.overhaul_remote_timeout);
  if (v === undefined || v === null || v === "") return true;
  if (typeof v === "boolean") return v;
  return !/^(false|no|off|0)$/i.test(String(v).trim());
}

/** The limit for `ms` of remaining time: rounded up to whole seconds (at least 1). */
export function remoteLimit(ms: number, killGraceMs: number): RemoteLimit {
  return {
    seconds: Math.max(1, Math.ceil(ms / 1000)),
    killAfterSeconds: Math.max(1, Math.ceil(killGraceMs / 1000)),
  };
}

export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The environment a remote command gets (beyond what sshd gives it). */
export function remoteEnvironment(host: Host, requestEnv: Readonly<Record<string, string>> | undefined) {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(requestEnv ?? {})) if (IDENTIFIER.test(k)) env[k] = v;
  env.OVERHAUL_HOST = host.name;
  for (const [name, value] of Object.entries(host.vars)) {
    if (isSecretVar(name)) continue;
    const text = scalarText(unwrap(value));
    if (text !== undefined && IDENTIFIER.test(name)) env[`OVERHAUL_VAR_${name}`] = text;
  }
  return env;
}

/**
 * Become settings from `ansible_become_*`. The password is read from `secretVars` (the host's
 * secret variables kept outside its snapshot) first, then from the host's variables.
 */
export function becomeSettings(
  host: Host,
  secretVars: Readonly<Record<string, unknown>> = {},
): BecomeSettings {
  const v = host.vars;
  const method = textVar(v.ansible_become_method);
  if (method !== undefined && method !== "sudo") {
    throw new BecomeError(`ansible_become_method ${JSON.stringify(method)} is not supported (only sudo)`);
  }
  const out: BecomeSettings = {
    user: textVar(v.ansible_become_user) ?? "root",
    exe: textVar(v.ansible_become_exe) ?? "sudo",
  };
  const password =
    passwordVar(secretVars.ansible_become_password) ??
    passwordVar(secretVars.ansible_become_pass) ??
    passwordVar(v.ansible_become_password) ??
    passwordVar(v.ansible_become_pass);
  if (password !== undefined) out.password = password;
  return out;
}

/** The marker directory of the user the script runs as (see the header). */
const MARKER_DIR = `d=; u=$(id -u 2>/dev/null) && [ -n "$u" ] && d="\${TMPDIR:-/tmp}/overhaul-$u"`;
/** The directory is ours: a directory owned by this user, not a symlink. */
const DIR_OURS = `[ -n "$d" ] && [ -d "$d" ] && [ ! -L "$d" ] && [ -O "$d" ]`;
/** The same, made here (mode 700) if need be. */
const DIR_OK = `{ [ -z "$d" ] || [ -d "$d" ] || (umask 077 && mkdir "$d") 2>/dev/null; } && ${DIR_OURS}`;
/** Field 22 of /proc/<pid>/stat: the process's start time (after the ")" of its name). */
const START_TIME = (pid: string) => `$(sed 's/.*) //' /proc/${pid}/stat 2>/dev/null | cut -d' ' -f20)`;
/** Field 3 of /proc/<pid>/stat: its state (`Z`: a zombie, which has ended; empty without /proc). */
const STATE = (pid: string) => `$(sed 's/.*) //' /proc/${pid}/stat 2>/dev/null | cut -d' ' -f1)`;

/** The lines that write the attempt marker (see the header). */
function markerLines(tag: string): string[] {
  return [
    MARKER_DIR,
    `if ${DIR_OK}; then echo "$$ ${START_TIME("$$")}" > "$d/${tag}"; find "$d" -type f -mtime +0 -exec rm -f {} + 2>/dev/null; fi`,
  ];
}

/** Stdout lines of `runningProbe`. */
export const PROBE = {
  running: "overhaul-attempt: running",
  ended: "overhaul-attempt: ended",
  none: "overhaul-attempt: none",
  unknown: "overhaul-attempt: unknown",
} as const;

/** A script that says whether the command tagged `tag` still runs (see the header). */
export function runningProbe(tag: string): string {
  if (!ATTEMPT_TAG.test(tag)) throw new RangeError(`not a valid attempt tag: ${JSON.stringify(tag)}`);
  return [
    MARKER_DIR,
    `f="$d/${tag}"`,
    `if ! { ${DIR_OURS}; }; then echo '${PROBE.unknown}'`,
    `elif [ ! -f "$f" ]; then echo '${PROBE.none}'`,
    `elif ! read -r pid st < "$f" || [ -z "$pid" ]; then echo '${PROBE.unknown}'`,
    `elif { kill -0 "$pid" 2>/dev/null || [ -d "/proc/$pid" ]; } && { [ -z "$st" ] || [ "${START_TIME("$pid")}" = "$st" ]; } && [ "${STATE("$pid")}" != Z ]; then echo '${PROBE.running}'`,
    `else rm -f "$f"; echo '${PROBE.ended}'; fi`,
  ].join("\n");
}

/** Why a command cannot be sent as it is (see the header), or undefined when it can. */
export function commandTooLarge(command: string, env: Readonly<Record<string, string>>): string | undefined {
  const bytes = Buffer.byteLength(command);
  if (bytes > MAX_COMMAND_BYTES) {
    return `the command is ${bytes} bytes, more than the ${MAX_COMMAND_BYTES} a command may have (the host's limit for one argument); put it in a file (upload) instead`;
  }
  for (const [k, v] of Object.entries(env)) {
    const entry = Buffer.byteLength(k) + 1 + Buffer.byteLength(v);
    if (entry > MAX_COMMAND_BYTES) {
      return `the environment variable ${k} is ${entry} bytes, more than the ${MAX_COMMAND_BYTES} one may have (the host's limit for one variable)`;
    }
  }
  return undefined;
}

export class CommandTooLarge extends Error {}

export function buildCommand(
  host: Host,
  command: string,
  env: Readonly<Record<string, string>>,
  become: BecomeSettings | undefined,
  limit?: RemoteLimit,
  tag?: string,
): RemoteCommand {
  const tooLarge = commandTooLarge(command, env);
  if (tooLarge !== undefined) throw new CommandTooLarge(tooLarge);
  // Stdin is already /dev/null here (BOOTSTRAP): the command reads EOF, never the script.
  const lines: string[] = [];
  const assigns = Object.entries(env).map(([k, v]) => `${k}=${shellQuote(v)}`);
  if (assigns.length) lines.push(`export ${assigns.join(" ")}`);
  const dir = textVar(host.vars.overhaul_workdir);
  if (dir !== undefined) {
    lines.push(
      `cd -- ${shellQuote(dir)} || { printf '\\n%s\\n' ${shellQuote(WORKDIR_MARKER)} >&2; exit 127; }`,
    );
  }
  if (tag !== undefined && ATTEMPT_TAG.test(tag)) lines.push(...markerLines(tag));
  if (limit === undefined) {
    lines.push(command);
  } else {
    const inner = `/bin/sh -c ${shellQuote(command)}`;
    const k = String(limit.killAfterSeconds);
    lines.push(
      `if timeout -k 1 1 true >/dev/null 2>&1; then exec timeout -k ${k} ${String(limit.seconds)} ${inner}; else exec ${inner}; fi`,
    );
  }
  lines.push(SCRIPT_END);
  const script = frame(lines.join("\n"));
  if (script.length > MAX_SCRIPT_BYTES) {
    throw new CommandTooLarge(
      `the command and its environment make a script of ${script.length} bytes, more than the ${MAX_SCRIPT_BYTES} the SSH transport sends`,
    );
  }
  const shell = `/bin/sh -c ${shellQuote(BOOTSTRAP)}`;
  let line = shell;
  if (become) {
    const userFlag = `-u ${shellQuote(become.user)}`;
    line =
      become.password === undefined
        ? `${become.exe} -n ${userFlag} -- ${shell}`
        : `${become.exe} -S -k -p ${shellQuote(SUDO_PROMPT)} ${userFlag} -- ${shell}`;
  }
  if (Buffer.byteLength(line) > MAX_LINE_BYTES) {
    throw new CommandTooLarge(
      `the exec request would be ${Buffer.byteLength(line)} bytes (ansible_become_exe and ansible_become_user are too long)`,
    );
  }
  return become?.password === undefined ? { line, script } : { line, script, password: become.password };
}

function scalarText(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (typeof value === "boolean") return String(value);
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  return undefined;
}

function textVar(value: unknown): string | undefined {
  const v = unwrap(value);
  return typeof v === "string" && v !== "" ? v : typeof v === "number" ? String(v) : undefined;
}

function passwordVar(value: unknown): string | undefined {
  const v = unwrap(value);
  if (v === undefined || v === null) return undefined;
  if (typeof v === "string") return v;
  if (typeof v === "number") return String(v);
  if (typeof v === "object" && !Array.isArray(v) && "__ansible_vault" in v) {
    throw new BecomeError("the become password is vault-encrypted, and Overhaul holds no vault password");
  }
  throw new BecomeError("the become password must be text");
}
