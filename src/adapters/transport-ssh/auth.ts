/**
 * Client authentication: private key files and the SSH agent, tried in a fixed order, with a
 * record of what was tried for the error message.
 *
 * Invariants:
 * - Order: the key files named for the host (inventory, args, ssh config), then the agent, then
 *   the default keys (~/.ssh/id_ed25519, id_ecdsa, id_rsa) when no key was named. A method the
 *   server does not offer (`authsLeft`) is skipped.
 * - IdentitiesOnly, as OpenSSH does it: the agent offers only its keys that are the public halves
 *   of the named key files (read from the file, from a passphrase-protected key's unencrypted
 *   OpenSSH header, or from `FILE.pub`), never its other keys. So a passphrase-protected key
 *   loaded with ssh-add is used under IdentitiesOnly too.
 * - Passphrase-protected key files are never decrypted here (Overhaul asks for no passphrase):
 *   they are skipped when an agent is available (it may hold them), and when no usable method is
 *   left the failure is an `auth` error that says to load the key into ssh-agent (when there is
 *   no agent, or the agent held none of the named keys).
 * - Key files are read once per transport and cached by path. Key material and passphrases never
 *   appear in messages; paths and the user do.
 */
import { readFile } from "node:fs/promises";
import type {
  AnyAuthMethod,
  AuthenticationType,
  AuthHandlerMiddleware,
  IdentityCallback,
  ParsedKey,
  SignCallback,
  SigningRequestOptions,
} from "ssh2";
import ssh2 from "ssh2";

const { utils, BaseAgent, createAgent } = ssh2;

export type LoadedKey =
  | { path: string; ok: true; key: ParsedKey }
  | {
      path: string;
      ok: false;
      why: "missing" | "encrypted" | "unreadable" | "invalid";
      detail: string;
      /** A passphrase-protected key's public half (wire format), when it can be read without it. */
      publicSsh?: Buffer;
    };

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
      const publicSsh = opensshPublicBlob(data) ?? (await publicFile(`${path}.pub`));
      return {
        path,
        ok: false,
        why: "encrypted",
        detail: "protected by a passphrase",
        ...(publicSsh ? { publicSsh } : {}),
      };
    }
    return { path, ok: false, why: "invalid", detail: "not a private key ssh2 can read" };
  }
  if (!key.isPrivateKey())
    return { path, ok: false, why: "invalid", detail: "a public key, not a private key" };
  return { path, ok: true, key };
}

/**
 * The public key an OpenSSH-format private key carries unencrypted in its header (`openssh-key-v1`:
 * cipher, kdf, kdf options, key count, then the first public key), as `ssh` reads it without the
 * passphrase. Undefined for other formats.
 */
function opensshPublicBlob(file: Buffer): Buffer | undefined {
  const m = /-----BEGIN OPENSSH PRIVATE KEY-----([\s\S]*?)-----END OPENSSH PRIVATE KEY-----/.exec(
    file.toString("latin1"),
  );
  if (!m) return undefined;
  const b = Buffer.from((m[1] ?? "").replace(/\s+/g, ""), "base64");
  const magic = Buffer.from("openssh-key-v1\0", "latin1");
  if (b.length < magic.length || !b.subarray(0, magic.length).equals(magic)) return undefined;
  let at = magic.length;
  const string = (): Buffer | undefined => {
    if (at + 4 > b.length) return undefined;
    const len = b.readUInt32BE(at);
    if (at + 4 + len > b.length) return undefined;
    const out = b.subarray(at + 4, at + 4 + len);
    at += 4 + len;
    return out;
  };
  for (let i = 0; i < 3; i++) if (string() === undefined) return undefined; // cipher, kdf, kdf options
  if (at + 4 > b.length || b.readUInt32BE(at) < 1) return undefined;
  at += 4;
  const blob = string();
  return blob && blob.length > 0 ? blob : undefined;
}

/** The public key in a `.pub` file, if there is one that parses. */
async function publicFile(path: string): Promise<Buffer | undefined> {
  try {
    const parsed = utils.parseKey(await readFile(path));
    const key = Array.isArray(parsed) ? parsed[0] : parsed;
    return key instanceof Error || key === undefined ? undefined : key.getPublicSSH();
  } catch {
    return undefined;
  }
}

/**
 * The agent under IdentitiesOnly: it lists only the keys whose public half is one of `allowed`
 * (OpenSSH offers an agent key then only when it matches a named IdentityFile). `onListed` learns
 * how many it kept, for the failure message.
 */
class MatchingAgent extends BaseAgent<ParsedKey> {
  private readonly inner;
  constructor(
    socket: string,
    private readonly allowed: readonly Buffer[],
    private readonly onListed: (kept: number) => void,
  ) {
    super();
    this.inner = createAgent(socket);
  }
  getIdentities(cb: IdentityCallback<ParsedKey>): void {
    this.inner.getIdentities((err, keys) => {
      if (err || !keys) return cb(err ?? new Error("the agent listed no keys"));
      const kept = (keys as ParsedKey[]).filter((k) => {
        const parsed = typeof k === "object" && "getPublicSSH" in k ? k : utils.parseKey(k);
        if (parsed instanceof Error || Array.isArray(parsed)) return false;
        const blob = parsed.getPublicSSH();
        return this.allowed.some((a) => a.equals(blob));
      });
      this.onListed(kept.length);
      cb(undefined, kept);
    });
  }
  sign(
    pubKey: ParsedKey,
    data: Buffer,
    options: SigningRequestOptions | SignCallback,
    cb?: SignCallback,
  ): void {
    if (typeof options === "function") this.inner.sign(pubKey, data, options);
    else this.inner.sign(pubKey, data, options, cb as SignCallback);
  }
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
  /** Under IdentitiesOnly: the agent held none of the named keys (known once it was asked). */
  readonly agentLacksNamed: boolean;
}

export async function planAuth(args: {
  user: string;
  named: readonly string[];
  defaults: readonly string[];
  agent: string | null;
  identitiesOnly: boolean;
  keys: KeyCache;
}): Promise<AuthPlan> {
  const methods: { label: string; method: AnyAuthMethod }[] = [];
  const skipped: string[] = [];
  /** The public halves of the named key files: under IdentitiesOnly, the agent keys it may offer. */
  const namedPublic: Buffer[] = [];
  let agentLacksNamed = false;
  const addFiles = async (paths: readonly string[], explicit: boolean) => {
    for (const path of paths) {
      const k = await args.keys.load(path);
      if (k.ok) {
        methods.push({
          label: `publickey ${path}`,
          method: { type: "publickey", username: args.user, key: k.key },
        });
        if (explicit) namedPublic.push(k.key.getPublicSSH());
      } else {
        if (explicit && k.publicSsh) namedPublic.push(k.publicSsh);
        const unmatched =
          explicit && k.why === "encrypted" && !k.publicSsh && args.identitiesOnly && args.agent;
        if (unmatched) {
          skipped.push(
            `${path} (${k.detail}; its public key is unknown, so IdentitiesOnly cannot find it in the agent: write ${path}.pub with ssh-keygen -y)`,
          );
        } else if (explicit || k.why !== "missing") skipped.push(`${path} (${k.detail})`);
      }
    }
  };
  await addFiles([...new Set(args.named)], true);
  if (args.agent !== null && !args.identitiesOnly) {
    methods.push({ label: "agent", method: { type: "agent", username: args.user, agent: args.agent } });
  } else if (args.agent !== null && namedPublic.length > 0) {
    const agent = new MatchingAgent(args.agent, namedPublic, (kept) => {
      if (kept === 0) {
        agentLacksNamed = true;
        skipped.push("agent (IdentitiesOnly: it holds none of the named keys)");
      }
    });
    methods.push({
      label: "agent (named keys only: IdentitiesOnly)",
      method: { type: "agent", username: args.user, agent },
    });
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
  return {
    handler,
    tried,
    skipped,
    empty: methods.length === 0,
    note: (p) => skipped.push(p),
    get agentLacksNamed() {
      return agentLacksNamed;
    },
  };
}

/** The auth failure message: who, where, what was tried, and what to do about skipped keys. */
export function authFailureMessage(
  who: string,
  user: string,
  endpoint: string,
  plan: Pick<AuthPlan, "tried" | "skipped"> & { readonly agentLacksNamed?: boolean },
  agent: string | null,
): string {
  const tried = plan.tried.length ? plan.tried.join(", ") : "nothing (no usable key and no agent)";
  let msg = `${who}the server refused user ${user} at ${endpoint} (tried: ${tried})`;
  if (plan.skipped.length) msg += `; could not use: ${plan.skipped.join(", ")}`;
  if (
    plan.skipped.some((s) => s.includes("passphrase")) &&
    (agent === null || plan.agentLacksNamed === true)
  ) {
    msg +=
      agent === null
        ? "; Overhaul does not ask for passphrases: load the key into ssh-agent (ssh-add) and set SSH_AUTH_SOCK"
        : "; Overhaul does not ask for passphrases: load the key into the agent (ssh-add)";
  }
  return `${msg}. Nothing was run.`;
}
