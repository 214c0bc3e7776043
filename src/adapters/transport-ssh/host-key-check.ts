/**
 * Host key checking for one connection attempt, against a known_hosts file, in `strict` or
 * `accept-new` mode (OpenSSH's StrictHostKeyChecking=yes / accept-new).
 *
 * Invariants:
 * - The decision is made during key exchange, before authentication, so a refused key means no
 *   credential was offered and no command ran.
 * - Changed and revoked keys are refused in every mode; unknown keys are refused in `strict` and
 *   recorded in `accept-new`.
 * - `accept-new` appends only after the handshake completed (the server proved it holds the key),
 *   under a per-file lock that re-reads the file first, so concurrent connections to a new host
 *   append one line, and a different key appended meanwhile is refused as changed.
 * - Refusal messages name the host, the lookup name, the key type and SHA256 fingerprint, and the
 *   known_hosts file (and line when there is one).
 */
import {
  appendKnownHost,
  fingerprint,
  type KnownHostLine,
  keyTypeOf,
  knownHostsName,
  knownKeyTypes,
  readKnownHosts,
  verifyHostKey,
} from "./known-hosts.js";
import type { HostKeyChecking } from "./options.js";

export interface HostKeyAttempt {
  /** Key types already known for the host, to prefer in negotiation. */
  readonly preferredTypes: readonly string[];
  /** ssh2's synchronous host verifier. */
  verify(key: Buffer): boolean;
  /** Why the key was refused, once `verify` returned false. */
  readonly refusal: string | undefined;
  /** After the handshake: record a newly accepted key (accept-new). Throws a refusal message. */
  commit(): Promise<void>;
}

const locks = new Map<string, Promise<unknown>>();

function withLock<T>(file: string, fn: () => Promise<T>): Promise<T> {
  const prev = locks.get(file) ?? Promise.resolve();
  const next = prev.then(fn, fn);
  const settled = next.then(
    () => undefined,
    () => undefined,
  );
  locks.set(file, settled);
  void settled.then(() => {
    if (locks.get(file) === settled) locks.delete(file);
  });
  return next;
}

export class HostKeyRefused extends Error {}

/**
 * Prepare the check for `address:port`. `who` prefixes messages (empty, or `bastion jump1: `;
 * `web01: bastion jump.example.com`).
 */
export async function prepareHostKeyCheck(
  file: string,
  mode: HostKeyChecking,
  address: string,
  port: number,
  who: string,
): Promise<HostKeyAttempt> {
  const name = knownHostsName(address, port);
  const lines = await readKnownHosts(file);
  let refusal: string | undefined;
  let accepted: Buffer | undefined;
  return {
    preferredTypes: knownKeyTypes(lines, name),
    get refusal() {
      return refusal;
    },
    verify(key: Buffer): boolean {
      const v = verifyHostKey(lines, name, key);
      if (v.status === "known") return true;
      if (v.status === "unknown" && mode === "accept-new") {
        accepted = key;
        return true;
      }
      refusal = describe(v, { file, name, key, who, mode });
      return false;
    },
    async commit(): Promise<void> {
      const key = accepted;
      if (!key) return;
      await withLock(file, async () => {
        const now = await readKnownHosts(file);
        const v = verifyHostKey(now, name, key);
        if (v.status === "known") return;
        if (v.status !== "unknown") throw new HostKeyRefused(describe(v, { file, name, key, who, mode }));
        await appendKnownHost(file, name, key);
      });
    },
  };
}

function describe(
  v: Exclude<ReturnType<typeof verifyHostKey>, { status: "known" }>,
  c: { file: string; name: string; key: Buffer; who: string; mode: HostKeyChecking },
): string {
  const offered = `${keyTypeOf(c.key) ?? "unknown-type"} ${fingerprint(c.key)}`;
  const at = (l: KnownHostLine) => `${c.file}:${l.line}`;
  switch (v.status) {
    case "revoked":
      return `${c.who}the host key of ${c.name} (${offered}) is marked @revoked in ${at(v.line)}; refusing to connect. Nothing was run.`;
    case "changed": {
      const was = v.lines.map((l) => `${l.keyType} ${fingerprint(l.key)} at ${at(l)}`).join("; ");
      return (
        `${c.who}the host key of ${c.name} has CHANGED: it now offers ${offered}, but known_hosts has ${was}. ` +
        `Someone may be intercepting the connection, or the host was reinstalled. If the change is expected, ` +
        `remove the old key (ssh-keygen -R '${c.name}' -f ${c.file}) and try again. Nothing was run.`
      );
    }
    case "unknown":
      return (
        `${c.who}no host key for ${c.name} is known in ${c.file} and host key checking is ${c.mode}; ` +
        `the host offers ${offered}. Check that fingerprint and add the key to ${c.file}, ` +
        `or run with --ssh-host-key-checking accept-new. Nothing was run.`
      );
  }
}
