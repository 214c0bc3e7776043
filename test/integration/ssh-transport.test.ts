/**
 * The SSH transport against in-process ssh2 servers on 127.0.0.1 (test/support/ssh-test-server.ts):
 * exit statuses and output, timeouts, drops, unreachable ports, refused users and keys, host key
 * checking (strict, accept-new, hashed entries, changed keys), pooling and reconnection, ProxyJump
 * through an in-process bastion, ssh config, sudo with a password on stdin, SFTP upload, close(),
 * and a planted secret that must never come back out.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createServer, type Server as NetServer, connect as netConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { MAX_COMMAND_BYTES, shellQuote } from "../../src/adapters/transport-ssh/command.js";
import {
  createSshTransport,
  type SshTransport,
  type SshTransportDeps,
  type SshTransportOptions,
} from "../../src/adapters/transport-ssh/index.js";
import { BOOTSTRAP } from "../../src/adapters/transport-ssh/session-start.js";
import { TransportError } from "../../src/core/errors.js";
import type { Host } from "../../src/core/model/fleet.js";
import { sshHost } from "../support/records.js";
import { generateKey, type KeyPair, startTestServer, type TestServer } from "../support/ssh-test-server.js";

const SECRET = `hunter2-${randomBytes(6).toString("hex")}`;
const dir = mkdtempSync(join(tmpdir(), "overhaul-ssh-"));
const binDir = join(dir, "bin");
const work = join(dir, "work");
mkdirSync(binDir);
mkdirSync(work);

let clientKey: KeyPair;
let keyFile: string;
let server: TestServer;
const servers: TestServer[] = [];
const opened: SshTransport[] = [];

function writeKey(name: string, key: KeyPair): string {
  const path = join(dir, name);
  writeFileSync(path, key.private, { mode: 0o600 });
  return path;
}

function knownLine(port: number, key: KeyPair): string {
  return `[127.0.0.1]:${port} ${key.public.split(" ").slice(0, 2).join(" ")}\n`;
}

function knownHosts(name: string, lines: string): string {
  const path = join(dir, name);
  writeFileSync(path, lines);
  return path;
}

async function serve(extra: Partial<Parameters<typeof startTestServer>[0]> = {}): Promise<TestServer> {
  const s = await startTestServer({ users: { tester: [clientKey.public] }, dir: work, binDir, ...extra });
  servers.push(s);
  return s;
}

function transport(options: SshTransportOptions & SshTransportDeps = {}): SshTransport {
  const t = createSshTransport({
    knownHostsFile: knownHosts(
      `kh-${randomBytes(4).toString("hex")}`,
      knownLine(server.port, server.hostKey),
    ),
    identityFiles: [keyFile],
    agent: null,
    sshConfigFile: null,
    homeDir: dir,
    defaultUser: "tester",
    killGraceMs: 300,
    ...options,
  });
  opened.push(t);
  return t;
}

/** `web01` at the test server. */
function host(vars: Record<string, unknown> = {}, over: Partial<Host> = {}): Host {
  return sshHost(vars, { address: "127.0.0.1", port: server.port, user: "tester", ...over });
}

async function rejection(p: Promise<unknown>): Promise<TransportError> {
  try {
    await p;
  } catch (e) {
    if (!(e instanceof TransportError)) throw e;
    return e;
  }
  throw new Error("expected a rejection");
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

beforeAll(async () => {
  clientKey = generateKey();
  keyFile = writeKey("id_test", clientKey);
  // A fake sudo: -n refuses when asked to; -S, like the real one, prints the -p prompt on stderr,
  // reads one line, and after a wrong one says "Sorry, try again." and asks again (3 tries).
  writeFileSync(
    join(binDir, "sudo"),
    [
      "#!/bin/bash",
      `printf '%s\\n' "$*" >> ${join(dir, "sudo.args")}`,
      "S=0; N=0; U=root; P=Password:",
      'while [ $# -gt 0 ]; do case "$1" in -S) S=1; shift;; -n) N=1; shift;; -k) shift;; -p) P="$2"; shift 2;; -u) U="$2"; shift 2;; --) shift; break;; *) break;; esac; done',
      `if [ $S = 1 ] && [ -e ${join(dir, "sudo-nopasswd")} ]; then :`,
      `elif [ $S = 1 ] && [ -e ${join(dir, "sudo-own-prompt")} ]; then printf 'Passwort: ' >&2; IFS= read -r pw; exit 1`,
      `elif [ $S = 1 ]; then ok=0; for try in 1 2 3; do printf '%s' "$P" >&2; IFS= read -r pw || { echo; echo 'sudo: no password was provided' >&2; exit 1; }; [ "$pw" = '${SECRET}' ] && { ok=1; break; }; echo 'Sorry, try again.' >&2; done; [ $ok = 1 ] || { echo 'sudo: 3 incorrect password attempts' >&2; exit 1; }`,
      `elif [ $N = 1 ] && [ -e ${join(dir, "sudo-wants-password")} ]; then echo 'sudo: a password is required' >&2; exit 1; fi`,
      'export BECAME="$U"',
      'exec "$@"',
    ].join("\n"),
  );
  chmodSync(join(binDir, "sudo"), 0o755);
  server = await serve();
});

afterEach(async () => {
  await Promise.all(opened.splice(0).map((t) => t.close()));
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

describe("exec", () => {
  it.each([
    ["exit 0", 0],
    ["exit 3", 3],
    ["false", 1],
  ])("`%s` resolves with exit code %i", async (command, code) => {
    const r = await transport().exec(host(), { command, timeoutMs: 10_000 });
    expect(r.exitCode).toBe(code);
    expect(r.signal).toBeNull();
  });

  it("reports the signal that ended the command", async () => {
    const r = await transport().exec(host(), { command: "kill -KILL $$", timeoutMs: 10_000 });
    expect(r).toMatchObject({ exitCode: null, signal: "SIGKILL" });
  });

  it("captures stdout and stderr separately, whatever the login shell", async () => {
    const r = await transport().exec(host(), {
      command: "echo out; echo err >&2; printf 'ünïcødé'",
      timeoutMs: 10_000,
    });
    expect(r).toMatchObject({ stdout: "out\nünïcødé", stderr: "err\n", truncated: false });
    expect(server.commands.at(-1)).toMatch(/^\/bin\/sh -c '/);
  });

  it("keeps the tail of long output and flags it as truncated", async () => {
    const r = await transport({ maxOutputBytes: 1000 }).exec(host(), {
      command: "seq 1 100000; echo done >&2",
      timeoutMs: 10_000,
    });
    expect(r.truncated).toBe(true);
    expect(Buffer.byteLength(r.stdout)).toBeLessThanOrEqual(1000);
    expect(r.stdout.endsWith("99999\n100000\n")).toBe(true);
    expect(r.stderr).toBe("done\n");
    const own = await transport().exec(host(), {
      command: "echo 0123456789",
      timeoutMs: 10_000,
      maxOutputBytes: 4,
    });
    expect(own).toMatchObject({ stdout: "789\n", truncated: true });
  });

  it("exports OVERHAUL_HOST, scalar host variables and the request env (not secrets) without env requests", async () => {
    const vars = {
      region: "eu-west",
      rack_units: 2,
      ssd: true,
      quote: 'it\'s "quoted" $HOME `x`',
      "not-an-identifier": "x",
      disks: ["a", "b"],
      ansible_become_password: SECRET,
    };
    const r = await transport().exec(host(vars, { name: "db07" }), {
      command: "env | grep -E '^(OVERHAUL_|TOKEN=)' | sort",
      timeoutMs: 10_000,
      env: { TOKEN: "t0k" },
    });
    expect(r.stdout.trim().split("\n")).toEqual([
      "OVERHAUL_HOST=db07",
      'OVERHAUL_VAR_quote=it\'s "quoted" $HOME `x`',
      "OVERHAUL_VAR_rack_units=2",
      "OVERHAUL_VAR_region=eu-west",
      "OVERHAUL_VAR_ssd=true",
      "TOKEN=t0k",
    ]);
  });

  it("puts nothing of the request in the exec line: variables go in the script on stdin; the command reads EOF", async () => {
    const r = await transport().exec(host({ db_password: "db-S3cret", region: "eu" }), {
      command: 'cat; echo "$OVERHAUL_VAR_db_password $OVERHAUL_VAR_region $TOKEN"',
      timeoutMs: 10_000,
      env: { TOKEN: "t0k-S3cret" },
    });
    expect(r).toMatchObject({ exitCode: 0, stdout: "db-S3cret eu t0k-S3cret\n", stderr: "" });
    // The exec line (what `ps` shows on the host) is the fixed bootstrap.
    expect(server.commands.at(-1)).toBe(`/bin/sh -c ${shellQuote(BOOTSTRAP)}`);
    expect(server.scripts.at(-1)).toContain("OVERHAUL_VAR_db_password='db-S3cret'");
  });

  it("sends a command as large as one argument may be, quotes and all; a larger one is refused before anything is sent", async () => {
    const t = transport();
    const quotes = "'\\''".repeat(10_000); // 10,000 quotes in the value, 4 bytes each in the command
    const tail = `'; echo "\${#x}"`;
    const command = `x='${quotes}${"a".repeat(MAX_COMMAND_BYTES - 3 - quotes.length - tail.length)}${tail}`;
    expect(Buffer.byteLength(command)).toBe(MAX_COMMAND_BYTES);
    const r = await t.exec(host(), { command, timeoutMs: 10_000 });
    expect(r).toMatchObject({ exitCode: 0, stdout: `${MAX_COMMAND_BYTES - 3 - tail.length - 30_000}\n` });
    expect(server.scripts.at(-1)).toContain("timeout -k");
    const before = server.commands.length;
    const err = await rejection(t.exec(host(), { command: `${command} `, timeoutMs: 10_000 }));
    expect(err.kind).toBe("unreachable");
    expect(err.message).toMatch(/^web01: the command is 131072 bytes, more than the 131071 .*; nothing ran$/);
    const env = await rejection(
      t.exec(host({ big: "b".repeat(MAX_COMMAND_BYTES) }), { command: "true", timeoutMs: 10_000 }),
    );
    expect(env.message).toMatch(/the environment variable OVERHAUL_VAR_big is \d+ bytes.*; nothing ran$/);
    expect(server.commands.length).toBe(before);
  });

  it("a login shell that does not start /bin/sh is `unreachable`: nothing ran", async () => {
    const s = await serve({
      script: (c) =>
        c.startsWith("/bin/sh -c")
          ? { stderr: "This account is currently not available.\n", code: 1 }
          : undefined,
    });
    const err = await rejection(
      transport({ knownHostsFile: knownHosts("kh-nologin", knownLine(s.port, s.hostKey)) }).exec(
        host({}, { port: s.port }),
        { command: "true", timeoutMs: 5_000 },
      ),
    );
    expect(err.kind).toBe("unreachable");
    expect(err.message).toMatch(
      /did not start \/bin\/sh \(exit status 1: This account is currently not available\.\); nothing ran/,
    );
  });

  it("a shell that had the command but never said it started (its stderr sent elsewhere) is an effect unknown, never `nothing ran`", async () => {
    // A .bashrc that redirects stderr: the bootstrap's start line never reaches the channel, the
    // command runs all the same.
    const s = await serve({
      script: (c) => (c.startsWith("/bin/sh -c") ? { stdout: "ran\n", code: 0 } : undefined),
    });
    const t = transport({ knownHostsFile: knownHosts("kh-quiet", knownLine(s.port, s.hostKey)) });
    const err = await rejection(t.exec(host({}, { port: s.port }), { command: "touch x", timeoutMs: 5_000 }));
    expect(err.kind).toBe("dropped");
    expect(err.message).toMatch(
      /never said it started \(exit status 0\), but it had the command: .*its effect is unknown/,
    );
    expect(err.message).not.toMatch(/nothing ran/);
  });

  it("runs in overhaul_workdir, and a missing one is `unreachable`", async () => {
    const t = transport();
    const r = await t.exec(host({ overhaul_workdir: dir }), { command: "pwd", timeoutMs: 10_000 });
    expect(r.stdout.trim()).toBe(dir);
    const err = await rejection(
      t.exec(host({ overhaul_workdir: join(dir, "missing") }), { command: "touch x", timeoutMs: 10_000 }),
    );
    expect(err.kind).toBe("unreachable");
    expect(existsSync(join(dir, "missing", "x"))).toBe(false);
  });
});

describe("timeouts, aborts and drops", () => {
  it("the host stops a hanging command at its timeout (its own `timeout`) and the rejection says so", async () => {
    const pidFile = join(dir, "hang.pid");
    const start = performance.now();
    const err = await rejection(
      transport().exec(host(), { command: `echo $$ > ${pidFile}; exec sleep 30`, timeoutMs: 500 }),
    );
    expect(err.kind).toBe("timeout");
    expect(err.effectUnknown).toBe(true);
    expect(err.stoppedOnHost).toBe(true);
    expect(err.message).toMatch(
      /^web01: the command timed out after 500 ms and the host stopped it \(exit status 124\)/,
    );
    // The host's limit is the time left rounded up to whole seconds.
    expect(performance.now() - start).toBeLessThan(3_000);
    const pid = Number(readFileSync(pidFile, "utf8"));
    await expect.poll(() => alive(pid), { timeout: 2_000 }).toBe(false);
  });

  it("rejects `timeout` when the server never answers, within the host's limit plus the grace and a margin", async () => {
    const s = await serve({ script: (c) => (c.includes("hang-here") ? { hang: true } : undefined) });
    const start = performance.now();
    const err = await rejection(
      transport({ knownHostsFile: knownHosts("kh-hang", knownLine(s.port, s.hostKey)) }).exec(
        host({}, { port: s.port }),
        {
          command: "hang-here",
          timeoutMs: 400,
        },
      ),
    );
    expect(err.kind).toBe("timeout");
    expect(err.stoppedOnHost).toBe(false);
    expect(err.message).toMatch(/did not report it stopped .*; it may still be running/);
    // 1 s (the host's limit) + 300 ms (its kill grace) + 2 s (margin) + 300 ms (TERM to KILL)
    const took = performance.now() - start;
    expect(took).toBeGreaterThan(3_500);
    expect(took).toBeLessThan(5_500);
  });

  it("without the host-side limit (overhaul_remote_timeout=false) gives up within the timeout plus the grace", async () => {
    const s = await serve({ script: (c) => (c.includes("hang-here") ? { hang: true } : undefined) });
    const start = performance.now();
    const err = await rejection(
      transport({ knownHostsFile: knownHosts("kh-hang2", knownLine(s.port, s.hostKey)) }).exec(
        host({ overhaul_remote_timeout: "false" }, { port: s.port }),
        { command: "hang-here", timeoutMs: 400 },
      ),
    );
    expect(err.kind).toBe("timeout");
    expect(err.stoppedOnHost).toBe(false);
    expect(err.message).toMatch(/TERM and KILL were sent, but it may still be running/);
    expect(s.scripts.at(-1)).not.toMatch(/timeout -k/);
    expect(performance.now() - start).toBeLessThan(2_000);
  });

  it("rejects `dropped` when aborted mid-command, and `unreachable` when aborted before", async () => {
    const t = transport();
    const ac = new AbortController();
    const running = t.exec(host(), { command: "sleep 30", timeoutMs: 60_000, signal: ac.signal });
    setTimeout(() => ac.abort(), 300);
    expect((await rejection(running)).kind).toBe("dropped");
    const before = server.commands.length;
    const err = await rejection(
      t.exec(host(), { command: "touch never", timeoutMs: 1000, signal: AbortSignal.abort() }),
    );
    expect(err.kind).toBe("unreachable");
    expect(server.commands.length).toBe(before);
  });

  it("rejects `dropped` when the connection is lost mid-command, then reconnects on the next use", async () => {
    const s = await serve();
    const t = transport({ knownHostsFile: knownHosts("kh-drop", knownLine(s.port, s.hostKey)) });
    const h = host({}, { port: s.port });
    expect((await t.exec(h, { command: "true", timeoutMs: 5_000 })).exitCode).toBe(0);
    const running = t.exec(h, { command: "sleep 30", timeoutMs: 60_000 });
    await new Promise((r) => setTimeout(r, 300));
    s.dropConnections();
    const err = await rejection(running);
    expect(err.kind).toBe("dropped");
    expect(err.effectUnknown).toBe(true);
    expect(err.message).toMatch(/^web01: .*connection was lost/);
    const r = await t.exec(h, { command: "echo back", timeoutMs: 5_000 });
    expect(r.stdout).toBe("back\n");
    expect(t.stats().connectsTotal).toBe(2);
  });

  it("notices a host that vanishes without closing the connection (keepalives) and rejects `dropped`", async () => {
    // A TCP relay that can go silent: no FIN, no RST, nothing — like a host that lost power.
    let frozen = false;
    const relay = createServer((inbound) => {
      const outbound = netConnect(server.port, "127.0.0.1");
      inbound.on("data", (d) => frozen || outbound.write(d));
      outbound.on("data", (d) => frozen || inbound.write(d));
      const end = () => {
        inbound.destroy();
        outbound.destroy();
      };
      inbound.on("error", end);
      outbound.on("error", end);
      inbound.on("close", end);
    });
    await new Promise<void>((r) => relay.listen(0, "127.0.0.1", () => r()));
    const port = (relay.address() as { port: number }).port;
    try {
      const t = transport({
        knownHostsFile: knownHosts("kh-relay", knownLine(port, server.hostKey)),
        keepaliveIntervalMs: 200,
        keepaliveCountMax: 2,
      });
      const running = t.exec(host({}, { port }), { command: "sleep 30", timeoutMs: 60_000 });
      await new Promise((r) => setTimeout(r, 300));
      frozen = true;
      const start = performance.now();
      const err = await rejection(running);
      expect(err.kind).toBe("dropped");
      expect(performance.now() - start).toBeLessThan(3_000);
      expect(t.stats().connections).toBe(0);
    } finally {
      relay.close();
    }
  });

  it("rejects `dropped` when the server drops the connection in answer to the command", async () => {
    const s = await serve({ script: (c) => (c.includes("reboot-now") ? { drop: true } : undefined) });
    const t = transport({ knownHostsFile: knownHosts("kh-reboot", knownLine(s.port, s.hostKey)) });
    const err = await rejection(
      t.exec(host({}, { port: s.port }), { command: "reboot-now", timeoutMs: 5_000 }),
    );
    expect(err.kind).toBe("dropped");
  });
});

describe("connection failures: nothing ran", () => {
  it("a closed port is `unreachable` at once", async () => {
    const port = await closedPort();
    const start = performance.now();
    const err = await rejection(transport().exec(host({}, { port }), { command: "true", timeoutMs: 10_000 }));
    expect(err.kind).toBe("unreachable");
    expect(err.effectUnknown).toBe(false);
    expect(err.message).toMatch(
      new RegExp(`^web01: cannot connect to tester@127\\.0\\.0\\.1:${port}: connection refused`),
    );
    expect(performance.now() - start).toBeLessThan(2_000);
  });

  it("a port that never speaks SSH is `unreachable` within the connect timeout (overhaul_ssh_connect_timeout)", async () => {
    const silent: NetServer = createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", () => r()));
    const port = (silent.address() as { port: number }).port;
    try {
      const start = performance.now();
      const err = await rejection(
        transport().exec(host({ overhaul_ssh_connect_timeout: "600ms" }, { port }), {
          command: "true",
          timeoutMs: 30_000,
        }),
      );
      expect(err.kind).toBe("unreachable");
      expect(err.message).toContain("within 600ms");
      const took = performance.now() - start;
      expect(took).toBeGreaterThan(500);
      expect(took).toBeLessThan(2_000);
    } finally {
      silent.close();
    }
  });

  it("a server that closes before its SSH greeting (sshd past MaxStartups) is tried again, a bounded number of times", async () => {
    // As sshd drops connections past MaxStartups: accepted, then closed before the banner. After
    // `drops` of those, the front passes connections through to the test server.
    let seen = 0;
    let drops = 2;
    const front: NetServer = createServer((c) => {
      seen++;
      if (seen <= drops) return c.destroy();
      const back = netConnect(server.port, "127.0.0.1");
      c.pipe(back).pipe(c);
      c.on("error", () => back.destroy());
      back.on("error", () => c.destroy());
    });
    await new Promise<void>((r) => front.listen(0, "127.0.0.1", () => r()));
    const port = (front.address() as { port: number }).port;
    const t = () =>
      transport({ knownHostsFile: knownHosts(`kh-front-${port}`, knownLine(port, server.hostKey)) });
    try {
      const r = await t().exec(host({}, { port }), { command: "echo ok", timeoutMs: 20_000 });
      expect(r.stdout).toBe("ok\n");
      expect(seen).toBe(3);
      seen = 0;
      drops = 1_000;
      const start = performance.now();
      const err = await rejection(t().exec(host({}, { port }), { command: "true", timeoutMs: 30_000 }));
      expect(err.kind).toBe("unreachable");
      expect(err.message).toMatch(/closed it before its SSH greeting \(4 times in [\d.]+s\): .*MaxStartups/);
      expect(err.message).toContain("nothing ran");
      expect(seen).toBe(4);
      expect(performance.now() - start).toBeLessThan(10_000);
    } finally {
      front.close();
    }
  });

  it("a command whose time runs out while connecting is `unreachable` at its own deadline", async () => {
    const silent: NetServer = createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", () => r()));
    const port = (silent.address() as { port: number }).port;
    try {
      const t = transport({ connectTimeoutMs: 20_000 });
      const start = performance.now();
      const errs = await Promise.all(
        [300, 600].map((ms) => rejection(t.exec(host({}, { port }), { command: "true", timeoutMs: ms }))),
      );
      expect(errs.map((e) => e.kind)).toEqual(["unreachable", "unreachable"]);
      expect(performance.now() - start).toBeLessThan(2_000);
    } finally {
      silent.close();
    }
  });

  it("a wrong user is `auth`, naming the user and the methods tried", async () => {
    const before = server.commands.length;
    const err = await rejection(
      transport().exec(host({}, { user: "mallory" }), { command: "true", timeoutMs: 5_000 }),
    );
    expect(err.kind).toBe("auth");
    expect(err.retryable).toBe(false);
    expect(err.message).toContain("user mallory");
    expect(err.message).toContain(`publickey ${keyFile}`);
    expect(server.commands.length).toBe(before);
  });

  it("a wrong key is `auth`; a passphrase-protected key without an agent says to use ssh-agent", async () => {
    const other = writeKey("id_other", generateKey());
    const wrong = await rejection(
      transport({ identityFiles: [other] }).exec(host(), { command: "true", timeoutMs: 5_000 }),
    );
    expect(wrong.kind).toBe("auth");
    const locked = writeKey("id_locked", generateKey("ed25519", SECRET));
    const err = await rejection(
      transport({ identityFiles: [] }).exec(host({ ansible_ssh_private_key_file: locked }), {
        command: "true",
        timeoutMs: 5_000,
      }),
    );
    expect(err.kind).toBe("auth");
    expect(err.message).toContain(`${locked} (protected by a passphrase)`);
    expect(err.message).toContain("ssh-agent");
  });

  it("an agent that cannot be reached is skipped for the next method", async () => {
    const r = await transport({ agent: join(dir, "no-agent.sock") }).exec(host(), {
      command: "echo ok",
      timeoutMs: 5_000,
    });
    expect(r.stdout).toBe("ok\n");
    const err = await rejection(
      transport({ agent: join(dir, "no-agent.sock"), identityFiles: [] }).exec(host(), {
        command: "true",
        timeoutMs: 5_000,
      }),
    );
    expect(err.kind).toBe("auth");
    expect(err.message).toContain("tried: agent");
    expect(err.message).toContain("could not use: agent (");
  });

  it("ansible_ssh_private_key_file is used before the default keys", async () => {
    const r = await transport({ identityFiles: [] }).exec(host({ ansible_ssh_private_key_file: keyFile }), {
      command: "echo ok",
      timeoutMs: 5_000,
    });
    expect(r.stdout).toBe("ok\n");
  });
});

describe("host keys", () => {
  it("strict: an unknown host key is `hostkey`, names host, type, fingerprint and file, and nothing runs", async () => {
    const s = await serve();
    const kh = knownHosts("kh-empty", "");
    const err = await rejection(
      transport({ knownHostsFile: kh }).exec(host({}, { port: s.port }), {
        command: "touch pwned",
        timeoutMs: 5_000,
      }),
    );
    expect(err.kind).toBe("hostkey");
    expect(err.retryable).toBe(false);
    expect(err.message).toMatch(/^web01: no host key for \[127\.0\.0\.1\]:\d+ is known in /);
    expect(err.message).toContain(kh);
    expect(err.message).toMatch(/ssh-ed25519 SHA256:[A-Za-z0-9+/]{43}/);
    expect(s.commands).toEqual([]);
    expect(readFileSync(kh, "utf8")).toBe("");
  });

  it("the fingerprint in the message is the one ssh-keygen prints", async () => {
    const s = await serve();
    const err = await rejection(
      transport({ knownHostsFile: knownHosts("kh-fp", "") }).exec(host({}, { port: s.port }), {
        command: "true",
        timeoutMs: 5_000,
      }),
    );
    const pub = join(dir, "server.pub");
    writeFileSync(pub, s.hostKey.public);
    const out = sshKeygen(["-l", "-E", "sha256", "-f", pub]);
    if (out === undefined) return;
    expect(err.message).toContain(out.split(" ")[1] as string);
  });

  it("accept-new records a new key, then a changed key on the same address is refused with the line", async () => {
    const first = await serve();
    const port = first.port;
    const kh = knownHosts("kh-new", "# my hosts\n");
    const t1 = transport({ knownHostsFile: kh, hostKeyChecking: "accept-new" });
    // Concurrent first connections must record the key once.
    await Promise.all(
      [1, 2, 3].map(() => t1.exec(host({}, { port }), { command: "true", timeoutMs: 5_000 })),
    );
    expect(readFileSync(kh, "utf8")).toBe(`# my hosts\n${knownLine(port, first.hostKey)}`);
    await t1.close();
    await first.close();

    const impostor = await serve({ port });
    const err = await rejection(
      transport({ knownHostsFile: kh, hostKeyChecking: "accept-new" }).exec(host({}, { port }), {
        command: "touch pwned",
        timeoutMs: 5_000,
      }),
    );
    expect(err.kind).toBe("hostkey");
    expect(err.message).toContain("has CHANGED");
    expect(err.message).toContain(`${kh}:2`);
    expect(impostor.commands).toEqual([]);
    expect(readFileSync(kh, "utf8").split("\n").filter(Boolean)).toHaveLength(2);
  });

  it("hashed known_hosts entries (|1|salt|hash) are matched, as ssh-keygen -H writes them", async () => {
    const s = await serve();
    const name = `[127.0.0.1]:${s.port}`;
    const salt = randomBytes(20);
    const hash = createHmac("sha1", salt).update(name).digest();
    const [type, b64] = s.hostKey.public.split(" ");
    const kh = knownHosts(
      "kh-hashed",
      `|1|${salt.toString("base64")}|${hash.toString("base64")} ${type} ${b64}\n`,
    );
    const r = await transport({ knownHostsFile: kh }).exec(host({}, { port: s.port }), {
      command: "echo hashed",
      timeoutMs: 5_000,
    });
    expect(r.stdout).toBe("hashed\n");

    // The same with a file hashed by the real ssh-keygen, when it is installed.
    const kh2 = knownHosts("kh-keygen", knownLine(s.port, s.hostKey));
    if (sshKeygen(["-H", "-f", kh2]) === undefined) return;
    expect(readFileSync(kh2, "utf8")).toMatch(/^\|1\|/);
    const r2 = await transport({ knownHostsFile: kh2 }).exec(host({}, { port: s.port }), {
      command: "echo keygen",
      timeoutMs: 5_000,
    });
    expect(r2.stdout).toBe("keygen\n");
  });
});

describe("pooling", () => {
  it("runs 40 commands at once over one connection's channels, never more than 8 at a time", async () => {
    const s = await serve();
    const t = transport({
      knownHostsFile: knownHosts("kh-pool", knownLine(s.port, s.hostKey)),
      maxConnectionsPerTarget: 1,
    });
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        t.exec(host({}, { port: s.port }), { command: `sleep 0.05; echo ${i}`, timeoutMs: 20_000 }),
      ),
    );
    expect(results.map((r) => r.stdout)).toEqual(Array.from({ length: 40 }, (_, i) => `${i}\n`));
    expect(s.connections).toBe(1);
    expect(s.peakSessions).toBeLessThanOrEqual(8);
    expect(s.peakSessions).toBeGreaterThan(1);
    expect(t.stats()).toMatchObject({ connections: 1, channels: 0, queued: 0, connectsTotal: 1 });
  });

  it("opens a second connection when the first is full, up to maxConnectionsPerTarget", async () => {
    const s = await serve();
    const t = transport({ knownHostsFile: knownHosts("kh-pool2", knownLine(s.port, s.hostKey)) });
    await Promise.all(
      Array.from({ length: 20 }, () =>
        t.exec(host({}, { port: s.port }), { command: "sleep 0.1", timeoutMs: 20_000 }),
      ),
    );
    expect(s.connections).toBe(3);
  });

  it("learns a server's lower session limit (MaxSessions) instead of failing", async () => {
    const s = await serve({ maxSessions: 2 });
    const t = transport({
      knownHostsFile: knownHosts("kh-max", knownLine(s.port, s.hostKey)),
      maxConnectionsPerTarget: 1,
    });
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        t.exec(host({}, { port: s.port }), { command: `echo ${i}`, timeoutMs: 20_000 }),
      ),
    );
    expect(results.every((r) => r.exitCode === 0)).toBe(true);
    expect(s.peakSessions).toBeLessThanOrEqual(2);
  });

  it("hosts that share an endpoint share its connection", async () => {
    const s = await serve();
    const t = transport({ knownHostsFile: knownHosts("kh-share", knownLine(s.port, s.hostKey)) });
    await t.exec(host({}, { name: "a", port: s.port }), { command: "true", timeoutMs: 5_000 });
    await t.exec(host({}, { name: "b", port: s.port }), { command: "true", timeoutMs: 5_000 });
    expect(s.connections).toBe(1);
  });
});

describe("bastions and ssh config", () => {
  it("goes through a ProxyJump bastion from ansible_ssh_common_args (-o ProxyJump= and -J)", async () => {
    const bastion = await serve({ allowForwarding: true });
    const target = await serve();
    const kh = knownHosts(
      "kh-jump",
      knownLine(bastion.port, bastion.hostKey) + knownLine(target.port, target.hostKey),
    );
    const t = transport({ knownHostsFile: kh });
    for (const args of [
      `-o ProxyJump=tester@127.0.0.1:${bastion.port}`,
      `-J tester@127.0.0.1:${bastion.port}`,
    ]) {
      const r = await t.exec(host({ ansible_ssh_common_args: args }, { port: target.port }), {
        command: "echo via",
        timeoutMs: 5_000,
      });
      expect(r.stdout).toBe("via\n");
    }
    expect(bastion.forwards).toEqual([`127.0.0.1:${target.port}`]);
    expect(bastion.commands).toEqual([]);
    expect(t.stats().bastions).toBe(1);
  });

  it("a bastion with an unknown host key stops the host, naming the bastion", async () => {
    const bastion = await serve({ allowForwarding: true });
    const err = await rejection(
      transport().exec(host({ ansible_ssh_common_args: `-J 127.0.0.1:${bastion.port}` }), {
        command: "true",
        timeoutMs: 5_000,
      }),
    );
    expect(err.kind).toBe("hostkey");
    expect(err.message).toMatch(new RegExp(`^web01: bastion 127\\.0\\.0\\.1:${bastion.port}: no host key`));
  });

  it("reads Host entries from the ssh config: HostName, Port, User, IdentityFile, ProxyJump; inventory vars win", async () => {
    const bastion = await serve({ allowForwarding: true });
    const target = await serve();
    const cfg = join(dir, "ssh_config");
    writeFileSync(
      cfg,
      [
        "Host jump",
        "  HostName 127.0.0.1",
        `  Port ${bastion.port}`,
        "Host app-*",
        "  HostName 127.0.0.1",
        `  Port ${target.port}`,
        "  User nobody-from-config",
        `  IdentityFile ${keyFile}`,
        "  ProxyJump jump",
        "Host *",
        "  User tester",
        "",
      ].join("\n"),
    );
    const kh = knownHosts(
      "kh-cfg",
      knownLine(bastion.port, bastion.hostKey) + knownLine(target.port, target.hostKey),
    );
    const t = transport({ knownHostsFile: kh, sshConfigFile: cfg, identityFiles: [] });
    // The config's User would be refused; ansible_user (host.user) wins.
    const h: Host = { ...host(), name: "app-1", address: "app-1", user: "tester" };
    delete h.port;
    const r = await t.exec(h, { command: "echo configured", timeoutMs: 5_000 });
    expect(r.stdout).toBe("configured\n");
    expect(bastion.forwards).toEqual([`127.0.0.1:${target.port}`]);
    const refused = await rejection(
      t.exec({ ...h, user: undefined } as Host, { command: "true", timeoutMs: 5_000 }),
    );
    expect(refused.kind).toBe("auth");
    expect(refused.message).toContain("user nobody-from-config");
  });
});

describe("become", () => {
  it("uses `sudo -n` without a password; a refusal is `auth`", async () => {
    const t = transport();
    const r = await t.exec(host({ ansible_become_user: "postgres" }), {
      command: 'echo "as $BECAME $OVERHAUL_HOST"',
      timeoutMs: 5_000,
      become: true,
    });
    expect(r.stdout).toBe("as postgres web01\n");
    expect(server.commands.at(-1)).toMatch(/^sudo -n -u 'postgres' -- \/bin\/sh -c /);
    writeFileSync(join(dir, "sudo-wants-password"), "");
    try {
      const err = await rejection(t.exec(host(), { command: "true", timeoutMs: 5_000, become: true }));
      expect(err.kind).toBe("auth");
    } finally {
      rmSync(join(dir, "sudo-wants-password"));
    }
  });

  it("sends ansible_become_password on stdin only; the command cannot read it; a wrong one is `auth`", async () => {
    const t = transport();
    const r = await t.exec(host({ ansible_become_password: SECRET }), {
      command: 'cat; echo "root=$BECAME"',
      timeoutMs: 5_000,
      become: true,
    });
    expect(r).toMatchObject({ exitCode: 0, stdout: "root=root\n" });
    const err = await rejection(
      t.exec(host({ ansible_become_password: "wrong" }), { command: "true", timeoutMs: 5_000, become: true }),
    );
    expect(err.kind).toBe("auth");
    expect(server.commands.some((c) => c.includes(SECRET))).toBe(false);
  });

  it("a wrong password is `auth` as soon as sudo asks again, not a timeout; nothing ran", async () => {
    const start = performance.now();
    const err = await rejection(
      transport().exec(host({ ansible_become_password: "wrong" }), {
        command: `touch ${join(work, "wrong-password-ran")}`,
        timeoutMs: 8_000,
        become: true,
      }),
    );
    expect(err.kind).toBe("auth");
    expect(err.message).toMatch(
      /^web01: sudo refused .*did not accept the password \(it said: Sorry, try again\.\); nothing ran$/,
    );
    expect(performance.now() - start).toBeLessThan(3_000);
    expect(existsSync(join(work, "wrong-password-ran"))).toBe(false);
  });

  it("writes the password only when sudo asks with Overhaul's prompt: not to a sudo that needs none", async () => {
    writeFileSync(join(dir, "sudo-nopasswd"), "");
    try {
      const r = await transport().exec(host({ ansible_become_password: SECRET }), {
        command: "cat; echo ran",
        timeoutMs: 5_000,
        become: true,
      });
      expect(r).toMatchObject({ exitCode: 0, stdout: "ran\n", stderr: "" });
    } finally {
      rmSync(join(dir, "sudo-nopasswd"));
    }
  });

  it("a sudo that asks with a prompt of its own is `auth` at the timeout, never in doubt: nothing was sent", async () => {
    writeFileSync(join(dir, "sudo-own-prompt"), "");
    try {
      const err = await rejection(
        transport().exec(host({ ansible_become_password: SECRET }), {
          command: `touch ${join(work, "own-prompt-ran")}`,
          timeoutMs: 500,
          become: true,
        }),
      );
      expect(err.kind).toBe("auth");
      expect(err.message).toMatch(
        /sudo did not start the command within 500 ms \(it said: Passwort:\); nothing ran$/,
      );
      expect(existsSync(join(work, "own-prompt-ran"))).toBe(false);
    } finally {
      rmSync(join(dir, "sudo-own-prompt"));
    }
  });

  it("a command's own stderr is not sudo's: `sudo: unknown user` from the command is its exit status", async () => {
    const f = join(work, "migrated");
    const r = await transport().exec(host(), {
      command: `touch ${f}; echo 'sudo: unknown user: svc' >&2; exit 1`,
      timeoutMs: 5_000,
      become: true,
    });
    expect(r).toMatchObject({ exitCode: 1, stderr: "sudo: unknown user: svc\n" });
    expect(existsSync(f)).toBe(true);
  });

  it("takes the password from hostSecrets before the host variables", async () => {
    const t = transport({ hostSecrets: () => ({ ansible_become_password: SECRET }) });
    const r = await t.exec(host(), { command: "echo ok", timeoutMs: 5_000, become: true });
    expect(r.stdout).toBe("ok\n");
  });

  it("refuses become methods other than sudo, before running anything", async () => {
    const before = server.commands.length;
    const err = await rejection(
      transport().exec(host({ ansible_become_method: "su" }), {
        command: "true",
        timeoutMs: 5_000,
        become: true,
      }),
    );
    expect(err.kind).toBe("auth");
    expect(server.commands.length).toBe(before);
  });
});

describe("upload over SFTP", () => {
  it("writes the file with its mode, replacing an existing one, and leaves no temporary file", async () => {
    const t = transport();
    const path = join(work, "app.conf");
    writeFileSync(path, "old");
    const big = Buffer.alloc(700_000, 7);
    const r = await t.upload(host(), { content: big, remotePath: path, mode: 0o640 });
    expect(r.bytes).toBe(700_000);
    expect(readFileSync(path).equals(big)).toBe(true);
    expect(statSync(path).mode & 0o777).toBe(0o640);
    await t.upload(host(), { content: "text ✓\n", remotePath: path });
    expect(readFileSync(path, "utf8")).toBe("text ✓\n");
    expect(statSync(path).mode & 0o777).toBe(0o644);
    expect(execFileSync("ls", ["-A", work], { encoding: "utf8" })).not.toContain("overhaul-");
  });

  it("a directory that does not exist is an error naming the path; nothing is written", async () => {
    const err = await rejection(
      transport().upload(host(), { content: "x", remotePath: join(work, "nope", "f") }),
    );
    expect(err.kind).toBe("unreachable");
    expect(err.message).toContain(join(work, "nope", "f"));
  });
});

describe("close()", () => {
  it("ends running commands `dropped` and refuses new ones `unreachable`", async () => {
    const t = transport();
    const running = t.exec(host(), { command: "sleep 30", timeoutMs: 60_000 });
    await new Promise((r) => setTimeout(r, 300));
    await t.close();
    expect((await rejection(running)).kind).toBe("dropped");
    expect((await rejection(t.exec(host(), { command: "true", timeoutMs: 1000 }))).kind).toBe("unreachable");
  });
});

describe("secrets", () => {
  it("a planted become password and key passphrase never appear in results, errors or command lines", async () => {
    const seen: unknown[] = [];
    const t = transport();
    const h = host({ ansible_become_password: SECRET });
    const record = async (p: Promise<unknown>) => {
      try {
        seen.push(await p);
      } catch (e) {
        seen.push(describeError(e));
      }
    };
    await record(t.exec(h, { command: "cat; env; echo done", timeoutMs: 5_000, become: true }));
    await record(t.exec(h, { command: "sleep 5", timeoutMs: 200, become: true }));
    await record(
      t.exec(host({ ansible_become_password: `${SECRET}x` }), {
        command: "true",
        timeoutMs: 5_000,
        become: true,
      }),
    );
    await record(
      t.exec({ ...h, port: await closedPort() }, { command: "true", timeoutMs: 5_000, become: true }),
    );
    const locked = writeKey("id_locked2", generateKey("ed25519", SECRET));
    await record(
      transport({ identityFiles: [locked] }).exec(h, { command: "true", timeoutMs: 5_000, become: true }),
    );
    const text = JSON.stringify(seen);
    expect(text).toContain("done");
    expect(text).not.toContain(SECRET);
    expect(server.commands.join("\n")).not.toContain(SECRET);
    expect(server.scripts.join("\n")).not.toContain(SECRET);
  });
});

function describeError(e: unknown): unknown {
  if (!(e instanceof Error)) return String(e);
  return { name: e.name, message: e.message, stack: e.stack, cause: describeError(e.cause) };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

/** Run ssh-keygen; undefined when it is not installed (the fast suite must not need it). */
function sshKeygen(args: string[]): string | undefined {
  try {
    return execFileSync("ssh-keygen", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT" && !process.env.CI) return undefined;
    throw e;
  }
}

/** A real ssh-agent on a socket in the test directory (OpenSSH's client tools), or undefined. */
function sshAgentAvailable(): boolean {
  try {
    execFileSync("ssh-agent", ["-k"], { stdio: "ignore", env: { ...process.env, SSH_AGENT_PID: "" } });
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== "ENOENT";
  }
  return true;
}

describe.skipIf(!sshAgentAvailable())("IdentitiesOnly and ssh-agent (as OpenSSH)", () => {
  const sock = join(dir, "agent.sock");
  let agent: ChildProcess | undefined;
  let accepting: TestServer;
  let lockedFile: string;
  let plainOther: string;
  const add = (file: string) =>
    execFileSync("ssh-add", ["-q", file], { env: { ...process.env, SSH_AUTH_SOCK: sock } });

  beforeAll(async () => {
    agent = spawn("ssh-agent", ["-D", "-a", sock], { stdio: "ignore" });
    for (let i = 0; i < 100 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 20));
    // One key, in the agent in the clear and on disk behind a passphrase (ssh-keygen -p), as after
    // `ssh-add ~/.ssh/id` with a passphrase; the server also accepts the test's usual key.
    const locked = generateKey();
    lockedFile = writeKey("id_agent_locked", locked);
    add(lockedFile);
    execFileSync("ssh-keygen", ["-q", "-p", "-P", "", "-N", SECRET, "-f", lockedFile]);
    plainOther = writeKey("id_agent_other", generateKey());
    accepting = await serve({ users: { tester: [clientKey.public, locked.public] } });
  });
  afterAll(() => {
    agent?.kill();
  });

  const only = (file: string) => ({
    ansible_ssh_private_key_file: file,
    ansible_ssh_common_args: "-o IdentitiesOnly=yes",
  });
  const at = (vars: Record<string, unknown>) => host(vars, { port: accepting.port });
  const via = () =>
    transport({
      agent: sock,
      identityFiles: [],
      knownHostsFile: knownHosts(
        `kh-agent-${randomBytes(4).toString("hex")}`,
        knownLine(accepting.port, accepting.hostKey),
      ),
    });

  it("offers the agent's copy of a named passphrase-protected key", async () => {
    const r = await via().exec(at(only(lockedFile)), { command: "echo ok", timeoutMs: 5_000 });
    expect(r.stdout).toBe("ok\n");
  });

  it("offers no other agent key, and says to ssh-add the named one when the agent lacks it", async () => {
    add(keyFile); // the server accepts it, but it is not named
    const err = await rejection(via().exec(at(only(plainOther)), { command: "true", timeoutMs: 5_000 }));
    expect(err.kind).toBe("auth");
    expect(err.message).toContain("IdentitiesOnly: it holds none of the named keys");
    execFileSync("ssh-add", ["-q", "-D"], { env: { ...process.env, SSH_AUTH_SOCK: sock } });
    const locked = await rejection(via().exec(at(only(lockedFile)), { command: "true", timeoutMs: 5_000 }));
    expect(locked.kind).toBe("auth");
    expect(locked.message).toContain(`${lockedFile} (protected by a passphrase)`);
    expect(locked.message).toContain("ssh-add");
    expect(locked.message).not.toContain(SECRET);
  });
});
