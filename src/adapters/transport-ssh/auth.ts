/**
 * Client authentication: private key files and the SSH agent, tried in a fixed order, with a
 * record of what was tried for the error message.
 *
 * Invariants:
 * - Order: the key files named for the host (inventory, args, ssh config), then the agent (unless
 *   IdentitiesOnly), then the default keys (~/.ssh/id_ed25519, id_ecdsa, id_rsa) when no key was
 *   named. A method the server does not offer (`authsLeft`) is skipped.
 * - Passphrase-protected key files are never decrypted here (Overhaul asks for no passphrase):
 *   they are skipped when an agent is available (it may hold them), and when no usable method is
 *   left the failure is an `auth` error that says to load the key into ssh-agent.
 * - Key files are read once per transport and cached by path. Key material and passphrases never
 *   appear in messages; paths and the user do.
 */
import { readFile } from "node:fs/promises";
import type { AnyAuthMethod, AuthenticationType, AuthHandlerMiddleware, ParsedKey } from "ssh2";
import ssh2 from "ssh2";

const { utils } = ssh2;

export type LoadedKey =
  | { path: string; ok: true; key: ParsedKey }
  | { path: string; ok: false; why: "missing" | "encrypted" | "unreadable" | "invalid"; detail: string };

export class KeyCache {
  private readonly keys = new Map<string, Promise<LoadedKey>>();

  load(path: string): Promise<LoadedKey> {
    let p = this.keys.get(path);
    if (!p) {
      p = loadKey(path);
      this.keys.set(path, p);
    }
    return p;
  }
}

async function loadKey(path: string): Promise<LoadedKey> {
  let data: Buffer;
  try {
    data = await readFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === "ENOENT"
      ? { path, ok: false, why: "missing", detail: "no such file" }
      : { path, ok: false, why: "unreadable", detail: code ?? "cannot read" };
  }
  const parsed = utils.parseKey(data);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (key instanceof Error || key === undefined) {
    const msg = key instanceof Error ? key.message : "no key";
    if (/encrypted|passphrase/i.test(msg)) {
      return { path, ok: false, why: "encrypted", detail: "protected by a passphrase" };
    }
    return { path, ok: false, why: "invalid", detail: "not a private key ssh2 can read" };
  }
  if (!key.isPrivateKey())
    return { path, ok: false, why: "invalid", detail: "a public key, not a private key" };
  return { path, ok: true, key };
}

export interface AuthPlan {
  handler: AuthHandlerMiddleware;
  /** What was offered to the server, for messages: `publickey /home/me/.ssh/id_ed25519`, `agent`. */
  readonly tried: readonly string[];
  /** Keys that could not be used and why (passphrase, missing), for messages. */
  readonly skipped: readonly string[];
  /** True when there is nothing to try at all. */
  readonly empty: boolean;
  /** Record a method that failed locally (agent unreachable, key cannot sign). */
  note(problem: string): void;
}

export async function planAuth(args: {
  user: string;
  named: readonly string[];
  defaults: readonly string[];
  agent: string | null;
  identitiesOnly: boolean;
  keys: KeyCache;
}): Promise<AuthPlan> {
  const useAgent = args.agent !== null && !args.identitiesOnly;
  const methods: { label: string; method: AnyAuthMethod }[] = [];
  const skipped: string[] = [];
  const addFiles = async (paths: readonly string[], explicit: boolean) => {
    for (const path of paths) {
      const k = await args.keys.load(path);
      if (k.ok) {
        methods.push({
          label: `publickey ${path}`,
          method: { type: "publickey", username: args.user, key: k.key },
        });
      } else if (explicit || k.why !== "missing") {
        skipped.push(`${path} (${k.detail})`);
      }
    }
  };
  await addFiles([...new Set(args.named)], true);
  if (useAgent && args.agent !== null) {
    methods.push({ label: "agent", method: { type: "agent", username: args.user, agent: args.agent } });
  }
  if (args.named.length === 0) await addFiles(args.defaults, false);

  const tried: string[] = [];
  let next = 0;
  const handler: AuthHandlerMiddleware = (authsLeft, _partial, callback) => {
    const allowed =
      authsLeft === null || authsLeft === undefined ? undefined : new Set<AuthenticationType>(authsLeft);
    while (next < methods.length) {
      const m = methods[next++] as (typeof methods)[number];
      const wire = m.method.type === "agent" ? "publickey" : m.method.type;
      if (allowed && !allowed.has(wire)) continue;
      tried.push(m.label);
      callback(m.method);
      return;
    }
    // ssh2 reads `false` as "no more methods" (its typings omit it).
    (callback as unknown as (v: false) => void)(false);
  };
  return { handler, tried, skipped, empty: methods.length === 0, note: (p) => skipped.push(p) };
}

/** The auth failure message: who, where, what was tried, and what to do about skipped keys. */
export function authFailureMessage(
  who: string,
  user: string,
  endpoint: string,
  plan: Pick<AuthPlan, "tried" | "skipped">,
  agent: string | null,
): string {
  const tried = plan.tried.length ? plan.tried.join(", ") : "nothing (no usable key and no agent)";
  let msg = `${who}the server refused user ${user} at ${endpoint} (tried: ${tried})`;
  if (plan.skipped.length) msg += `; could not use: ${plan.skipped.join(", ")}`;
  if (plan.skipped.some((s) => s.includes("passphrase")) && agent === null) {
    msg +=
      "; Overhaul does not ask for passphrases: load the key into ssh-agent (ssh-add) and set SSH_AUTH_SOCK";
  }
  return `${msg}. Nothing was run.`;
}
