/**
 * known_hosts parsing and matching, table-driven: plain names, `[host]:port`, patterns and
 * negation, hashed entries, markers, and the known / unknown / changed / revoked verdicts.
 */
import { createHmac, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  fingerprint,
  keyTypeOf,
  knownHostsName,
  knownKeyTypes,
  lineMatches,
  parseKnownHosts,
  verifyHostKey,
} from "./known-hosts.js";

function blob(type: string, body: string): Buffer {
  const t = Buffer.from(type);
  const b = Buffer.from(body);
  const out = Buffer.alloc(8 + t.length + b.length);
  out.writeUInt32BE(t.length, 0);
  t.copy(out, 4);
  out.writeUInt32BE(b.length, 4 + t.length);
  b.copy(out, 8 + t.length);
  return out;
}

const A = blob("ssh-ed25519", "key-a-32-bytes-key-a-32-bytes-xx");
const B = blob("ssh-ed25519", "key-b-32-bytes-key-b-32-bytes-xx");
const R = blob("ssh-rsa", "rsa-key");
const line = (hosts: string, key: Buffer, marker = "") =>
  `${marker ? `${marker} ` : ""}${hosts} ${keyTypeOf(key)} ${key.toString("base64")}`;

function hashed(name: string): string {
  const salt = randomBytes(20);
  return `|1|${salt.toString("base64")}|${createHmac("sha1", salt).update(name).digest("base64")}`;
}

describe("knownHostsName", () => {
  it.each([
    ["web01", 22, "web01"],
    ["10.0.0.5", 2222, "[10.0.0.5]:2222"],
    ["::1", 22, "::1"],
    ["LocalHost", 2222, "[localhost]:2222"],
  ])("%s port %i is looked up as %s", (host, port, name) => {
    expect(knownHostsName(host, port)).toBe(name);
  });
});

describe("parseKnownHosts", () => {
  it("reads entries with line numbers, skipping comments, blanks, bad lines and mismatched types", () => {
    const text = [
      "# comment",
      "",
      line("web01,10.0.0.5", A),
      "garbage",
      `web02 ssh-rsa ${A.toString("base64")}`, // type field does not match the blob
      line("*.example.com", B, "@revoked"),
      line("*.example.com", B, "@cert-authority"),
      line("x", B, "@bogus"),
    ].join("\n");
    const lines = parseKnownHosts(text);
    expect(lines.map((l) => [l.line, l.hosts, l.marker])).toEqual([
      [3, "web01,10.0.0.5", undefined],
      [6, "*.example.com", "@revoked"],
      [7, "*.example.com", "@cert-authority"],
    ]);
  });
});

describe("lineMatches", () => {
  const l = (hosts: string) =>
    parseKnownHosts(line(hosts, A))[0] as ReturnType<typeof parseKnownHosts>[number];
  it.each([
    ["web01", "web01", true],
    ["WEB01", "web01", true],
    ["web01,web02", "web02", true],
    ["web0?", "web07", true],
    ["*.example.com", "db.example.com", true],
    ["*.example.com,!bad.example.com", "bad.example.com", false],
    ["!bad.example.com", "good.example.com", false],
    ["[10.0.0.5]:2222", "[10.0.0.5]:2222", true],
    ["10.0.0.5", "[10.0.0.5]:2222", false],
    ["[10.0.0.5]:*", "[10.0.0.5]:2222", true],
    ["web.01", "webx01", false],
  ])("%s matches %s: %s", (hosts, name, want) => {
    expect(lineMatches(l(hosts), name)).toBe(want);
  });

  it("matches hashed entries only for the hashed name", () => {
    const h = l(hashed("[127.0.0.1]:2200"));
    expect(lineMatches(h, "[127.0.0.1]:2200")).toBe(true);
    expect(lineMatches(h, "[127.0.0.1]:2201")).toBe(false);
    expect(lineMatches(l("|1|bad|entry"), "x")).toBe(false);
  });

  it("matches a hashed entry for a name written in capitals, as ssh lowercases it before hashing", () => {
    // ssh-keygen -H / HashKnownHosts hash the lowercase name ssh looked up.
    const h = l(hashed("[localhost]:2200"));
    expect(lineMatches(h, knownHostsName("LocalHost", 2200))).toBe(true);
    expect(lineMatches(h, "[LocalHost]:2200")).toBe(true);
  });
});

describe("verifyHostKey", () => {
  const lines = parseKnownHosts(
    [
      line("web01", A),
      line("web01", R),
      line("db01", A),
      line(hashed("[h]:2222"), B),
      line("*", A, "@revoked"),
      line("old01", B),
    ].join("\n"),
  );
  it("accepts the key a matching line holds", () => {
    expect(verifyHostKey(lines.slice(0, 4), "db01", A)).toMatchObject({ status: "known", line: { line: 3 } });
    expect(verifyHostKey(lines, "[h]:2222", B).status).toBe("known");
  });
  it("reports an unknown host", () => {
    expect(verifyHostKey(lines.slice(0, 4), "new01", A).status).toBe("unknown");
  });
  it("reports a changed key whatever its type, with every line known for the host", () => {
    const v = verifyHostKey(lines, "old01", blob("ecdsa-sha2-nistp256", "other"));
    expect(v).toMatchObject({ status: "changed", lines: [{ line: 6 }] });
    expect(verifyHostKey(lines.slice(0, 4), "web01", B)).toMatchObject({
      status: "changed",
      lines: [{ line: 1 }, { line: 2 }],
    });
  });
  it("refuses a revoked key even where it is also listed as known", () => {
    expect(verifyHostKey(lines, "web01", A)).toMatchObject({ status: "revoked", line: { line: 5 } });
  });
  it("lists the key types known for a host", () => {
    expect(knownKeyTypes(lines, "web01")).toEqual(["ssh-ed25519", "ssh-rsa"]);
    expect(knownKeyTypes(lines, "nobody")).toEqual([]);
  });
});

describe("fingerprint", () => {
  it("is SHA256 base64 without padding, as ssh-keygen -l prints", () => {
    expect(fingerprint(A)).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
  });
});
