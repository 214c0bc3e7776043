/**
 * OpenSSH `known_hosts`: parse, look a host up, and decide whether a presented host key is known,
 * unknown, changed or revoked — as `ssh` does with StrictHostKeyChecking.
 *
 * Invariants:
 * - The lookup name is `host` for port 22 and `[host]:port` otherwise, as OpenSSH writes it.
 * - Host fields may be comma-separated patterns (`*`, `?`, `!negation`), `[host]:port`, or hashed
 *   `|1|base64(salt)|base64(HMAC-SHA1(salt, name))`. A line matches when one positive pattern
 *   matches and no negated one does.
 * - A key is accepted only when a matching, non-revoked line holds exactly that key. When the
 *   host has lines but none holds the presented key, the key has CHANGED — whatever its type —
 *   and it is refused in every mode. `@revoked` keys are always refused. `@cert-authority` lines
 *   are not used (host certificates are not supported) and never make a key "known".
 * - Lines that do not parse are skipped, as OpenSSH does; the line numbers kept are 1-based.
 * - Pure except `readKnownHosts` and `appendKnownHost` (file I/O).
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { appendFile, mkdir, readFile } from "node:fs/promises";
import { dirname } from "node:path";

export interface KnownHostLine {
  line: number;
  marker?: "@revoked" | "@cert-authority";
  /** The host field as written. */
  hosts: string;
  keyType: string;
  key: Buffer;
}

export type HostKeyVerdict =
  | { status: "known"; line: KnownHostLine }
  | { status: "unknown" }
  | { status: "changed"; lines: KnownHostLine[] }
  | { status: "revoked"; line: KnownHostLine };

export function parseKnownHosts(text: string): KnownHostLine[] {
  const out: KnownHostLine[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const raw = (lines[i] as string).trim();
    if (raw === "" || raw.startsWith("#")) continue;
    const fields = raw.split(/[ \t]+/);
    let marker: KnownHostLine["marker"];
    if (fields[0]?.startsWith("@")) {
      const m = fields.shift();
      if (m !== "@revoked" && m !== "@cert-authority") continue;
      marker = m;
    }
    const [hosts, keyType, b64] = fields;
    if (!hosts || !keyType || !b64 || !/^[A-Za-z0-9+/]+=*$/.test(b64)) continue;
    const key = Buffer.from(b64, "base64");
    if (keyTypeOf(key) !== keyType) continue;
    const entry: KnownHostLine = { line: i + 1, hosts, keyType, key };
    if (marker) entry.marker = marker;
    out.push(entry);
  }
  return out;
}

/**
 * The name OpenSSH looks up for a host and port. `ssh` lowercases the host name before it reads or
 * writes known_hosts, so hashed entries (`|1|salt|hash`) are hashes of the lowercase name.
 */
export function knownHostsName(host: string, port: number): string {
  const h = host.toLowerCase();
  return port === 22 ? h : `[${h}]:${port}`;
}

export function lineMatches(line: KnownHostLine, name: string): boolean {
  if (line.hosts.startsWith("|1|")) return hashedMatches(line.hosts, name.toLowerCase());
  let positive = false;
  for (const pat of line.hosts.split(",")) {
    const negated = pat.startsWith("!");
    const p = negated ? pat.slice(1) : pat;
    if (globMatch(p.toLowerCase(), name.toLowerCase())) {
      if (negated) return false;
      positive = true;
    }
  }
  return positive;
}

function hashedMatches(field: string, name: string): boolean {
  const parts = field.split("|"); // ["", "1", salt, hash]
  if (parts.length !== 4 || !parts[2] || !parts[3]) return false;
  const salt = Buffer.from(parts[2], "base64");
  const want = Buffer.from(parts[3], "base64");
  const got = createHmac("sha1", salt).update(name).digest();
  return got.length === want.length && timingSafeEqual(got, want);
}

/** OpenSSH's `match_pattern`: `*` any run, `?` one character, everything else literal. */
function globMatch(pattern: string, text: string): boolean {
  if (!pattern.includes("*") && !pattern.includes("?")) return pattern === text;
  const re = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, "\\$&")
      .replace(/\*/g, ".*")
      .replace(/\?/g, ".")}$`,
    "s",
  );
  return re.test(text);
}

/** Decide about a presented key (the raw SSH public key blob). */
export function verifyHostKey(lines: readonly KnownHostLine[], name: string, key: Buffer): HostKeyVerdict {
  const matching = lines.filter((l) => lineMatches(l, name));
  const revoked = lines.find((l) => l.marker === "@revoked" && l.key.equals(key));
  if (revoked) return { status: "revoked", line: revoked };
  const plain = matching.filter((l) => l.marker === undefined);
  const same = plain.find((l) => l.key.equals(key));
  if (same) return { status: "known", line: same };
  if (plain.length > 0) return { status: "changed", lines: plain };
  return { status: "unknown" };
}

/** Key types already known for a host, so the client can prefer them (as OpenSSH does). */
export function knownKeyTypes(lines: readonly KnownHostLine[], name: string): string[] {
  return [
    ...new Set(lines.filter((l) => l.marker === undefined && lineMatches(l, name)).map((l) => l.keyType)),
  ];
}

/** The key type written inside an SSH public key blob (`ssh-ed25519`, `ssh-rsa`, ...). */
export function keyTypeOf(key: Buffer): string | undefined {
  if (key.length < 4) return undefined;
  const len = key.readUInt32BE(0);
  if (len === 0 || len > 64 || 4 + len > key.length) return undefined;
  return key.subarray(4, 4 + len).toString("latin1");
}

/** `SHA256:...` as `ssh-keygen -l` prints it. */
export function fingerprint(key: Buffer): string {
  return `SHA256:${createHash("sha256").update(key).digest("base64").replace(/=+$/, "")}`;
}

export async function readKnownHosts(file: string): Promise<KnownHostLine[]> {
  try {
    return parseKnownHosts(await readFile(file, "utf8"));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw e;
  }
}

/** Append one line (`name keytype base64`), creating the file (and a 0700 directory) if needed. */
export async function appendKnownHost(file: string, name: string, key: Buffer): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const type = keyTypeOf(key) ?? "unknown";
  let before = "";
  try {
    before = await readFile(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
  const sep = before === "" || before.endsWith("\n") ? "" : "\n";
  await appendFile(file, `${sep}${name} ${type} ${key.toString("base64")}\n`, { mode: 0o644 });
}
