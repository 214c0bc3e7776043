/**
 * The OpenSSH command-line options Ansible users put in `ansible_ssh_common_args` and
 * `ansible_ssh_extra_args`, read the way `ssh` would read them.
 *
 * Invariants:
 * - Split like Ansible does (`shlex.split`), then read `-o Key=Value` / `-o Key Value`, `-J`,
 *   `-p`, `-l`, `-i` in order; the first value of an option wins, as in OpenSSH (except
 *   IdentityFile, which accumulates).
 * - Options that change where or as whom we connect are applied (ProxyJump, Port, User,
 *   IdentityFile, IdentitiesOnly, ConnectTimeout). Options that only tune OpenSSH's own process or
 *   relax security (ControlMaster, StrictHostKeyChecking, UserKnownHostsFile, ...) are ignored on
 *   purpose: Overhaul's flags decide host key checking. Anything else, or a ProxyCommand other
 *   than `none` (no proxy, as in OpenSSH), is a
 *   problem reported by name: we never connect differently from what the operator wrote.
 * - Pure: no I/O.
 */
import { ShlexError, shlexSplit } from "../../core/inventory/shlex.js";

export interface SshArgs {
  proxyJump?: string;
  port?: number;
  user?: string;
  identityFiles: string[];
  identitiesOnly?: boolean;
  connectTimeoutMs?: number;
}

/** Lower-case option names that are accepted and have no effect here (documented in docs/ssh.md). */
const IGNORED = new Set([
  "controlmaster",
  "controlpersist",
  "controlpath",
  "compression",
  "loglevel",
  "serveraliveinterval",
  "serveralivecountmax",
  "tcpkeepalive",
  "stricthostkeychecking",
  "userknownhostsfile",
  "globalknownhostsfile",
  "hashknownhosts",
  "checkhostip",
  "updatehostkeys",
  "forwardagent",
  "forwardx11",
  "preferredauthentications",
  "passwordauthentication",
  "kbdinteractiveauthentication",
  "pubkeyauthentication",
  "gssapiauthentication",
  "gssapidelegatecredentials",
  "batchmode",
  "connectionattempts",
  "addkeystoagent",
  "visualhostkey",
  "requesttty",
]);

/** Flags without a value that may appear (`-q`, `-C`, `-T`, ...): ignored. */
const IGNORED_FLAGS = new Set([
  "-q",
  "-C",
  "-T",
  "-t",
  "-tt",
  "-v",
  "-vv",
  "-vvv",
  "-x",
  "-A",
  "-a",
  "-4",
  "-6",
]);

export class SshArgsError extends Error {}

/** Read one or more argument strings (common args first, then extra args). Throws `SshArgsError`. */
export function parseSshArgs(texts: readonly string[]): SshArgs {
  const out: SshArgs = { identityFiles: [] };
  for (const text of texts) {
    let tokens: string[];
    try {
      tokens = shlexSplit(text).map((t) => t.value);
    } catch (e) {
      throw new SshArgsError(
        `cannot split ${JSON.stringify(text)}: ${e instanceof ShlexError ? e.message : e}`,
      );
    }
    for (let i = 0; i < tokens.length; i++) {
      const tok = tokens[i] as string;
      const value = (flag: string): string => {
        if (tok.length > flag.length) return tok.slice(flag.length);
        const next = tokens[++i];
        if (next === undefined) throw new SshArgsError(`${flag} needs a value`);
        return next;
      };
      if (tok.startsWith("-o")) {
        let opt = value("-o");
        // `-o Key Value` (two tokens) is also accepted by ssh.
        if (!/[= ]/.test(opt.trim())) {
          const next = tokens[i + 1];
          if (next === undefined) throw new SshArgsError(`-o ${opt} needs a value`);
          opt = `${opt}=${next}`;
          i++;
        }
        applyOption(out, opt);
      } else if (tok.startsWith("-J")) applyOption(out, `ProxyJump=${value("-J")}`);
      else if (tok.startsWith("-p")) applyOption(out, `Port=${value("-p")}`);
      else if (tok.startsWith("-l")) applyOption(out, `User=${value("-l")}`);
      else if (tok.startsWith("-i")) applyOption(out, `IdentityFile=${value("-i")}`);
      else if (IGNORED_FLAGS.has(tok)) continue;
      else throw new SshArgsError(`the ssh option ${JSON.stringify(tok)} is not supported`);
    }
  }
  return out;
}

function applyOption(out: SshArgs, opt: string): void {
  const m = /^\s*([A-Za-z]+)\s*(?:=\s*|\s+)(.*?)\s*$/.exec(opt);
  if (!m) throw new SshArgsError(`cannot read the ssh option ${JSON.stringify(opt)}`);
  const key = (m[1] as string).toLowerCase();
  const val = unquote(m[2] as string);
  switch (key) {
    case "proxyjump":
      out.proxyJump ??= val;
      return;
    case "port": {
      const n = Number(val);
      if (!/^\d+$/.test(val) || n < 1 || n > 65535)
        throw new SshArgsError(`Port ${JSON.stringify(val)} is not a port`);
      out.port ??= n;
      return;
    }
    case "user":
      out.user ??= val;
      return;
    case "identityfile":
      out.identityFiles.push(val);
      return;
    case "identitiesonly":
      out.identitiesOnly ??= /^(yes|true)$/i.test(val);
      return;
    case "connecttimeout": {
      const n = Number(val);
      if (!/^\d+$/.test(val) || n < 1)
        throw new SshArgsError(`ConnectTimeout ${JSON.stringify(val)} is not a number of seconds`);
      out.connectTimeoutMs ??= n * 1000;
      return;
    }
    case "proxycommand":
      // `none` is no proxy (OpenSSH), as `ProxyJump none`; the first of the two wins.
      if (val.trim().toLowerCase() === "none") {
        out.proxyJump ??= "none";
        return;
      }
      throw new SshArgsError("ProxyCommand is not supported: use ProxyJump (-J) for a bastion");
    default:
      if (IGNORED.has(key)) return;
      throw new SshArgsError(`the ssh option ${m[1]} is not supported`);
  }
}

function unquote(v: string): string {
  if (v.length >= 2 && ((v.startsWith('"') && v.endsWith('"')) || (v.startsWith("'") && v.endsWith("'")))) {
    return v.slice(1, -1);
  }
  return v;
}
