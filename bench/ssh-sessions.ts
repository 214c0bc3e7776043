/**
 * Benchmark "ssh-sessions": one coordinator (the SSH transport, src/adapters/transport-ssh)
 * holding >= 256 concurrent SSH sessions, and the per-command overhead of a trivial command
 * meanwhile. Goal: p50 <= 5 ms.
 *
 * The hosts are in-process ssh2 servers (`startBenchHost` below): 64 by default, each with its own
 * ed25519 host key checked strictly against a known_hosts file, public-key login, TCP_NODELAY on
 * their sockets (a request/response server must not wait for Nagle). They run nothing: an exec is
 * answered at once (exit 0), or held open when it is a "hold" command. So what is timed is SSH
 * itself (channel open, exec request, exit status, EOF, close, both ends' crypto) plus the
 * transport's own work (pooling, command building, output capture): the overhead Overhaul adds to
 * a command, with both ends of the protocol on this machine's cores.
 *
 * Each round:
 * 1. Hold: `channelsPerHost` commands per host (4 x 64 = 256) that never answer, so the transport
 *    holds 256 concurrent sessions for the whole round (checked on both ends: every server got its
 *    hold requests and `stats().channels` counts them; one connection per host).
 * 2. Serial (the headline): `commands` trivial commands, one at a time, round-robin over the hosts,
 *    each timed from `exec()` to its result: p50 / p90 / p99 / max.
 * 3. Burst: `bursts` times, one trivial command on every held slot at once (256 in flight);
 *    per-command latency p50 / p99 under that load, and commands per second.
 * Then the held commands are let go by closing the transport (they end "dropped", as expected).
 *
 * For reference, when sshd is installed: the same serial measurement against one real OpenSSH
 * host of the sshd test fleet (test/support/sshd-fleet.ts). That figure includes sshd starting the
 * user's shell for every command, so it is not pure overhead; it shows what a command costs on a
 * real server.
 *
 * Invariants:
 * - A fresh transport and fresh servers per round: every round pays its own connects (timed and
 *   reported separately, not part of the per-command numbers).
 * - Every trivial command must succeed with exit 0, the servers must have received exactly the
 *   commands that were timed, and every hold must still be open when the measurements end.
 * - Talks only to loopback; writes its key files into the scratch directory it is given.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import ssh2, { type ParsedKey, type ServerChannel } from "ssh2";
import { createSshTransport, type SshTransport } from "../src/adapters/transport-ssh/index.js";
import type { Host } from "../src/core/model/fleet.js";
import { SshdFleet, sshdAvailability } from "../test/support/sshd-fleet.js";
import { median, round } from "./results.js";

export const NAME = "ssh-sessions";
export const GOAL_P50_MS = 5;
const HOLD = "overhaul-bench-hold";
const TRIVIAL = "true";

export interface SshSessionsConfig {
  rounds: number;
  hosts: number;
  channelsPerHost: number;
  /** Trivial commands timed one at a time per round. */
  commands: number;
  /** Bursts of one command per held slot per round. */
  bursts: number;
}

export const DEFAULT_SSH_SESSIONS: Omit<SshSessionsConfig, "rounds"> = {
  hosts: 64,
  channelsPerHost: 4,
  commands: 2_000,
  bursts: 10,
};

export interface Latencies {
  count: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
}

export interface SshSessionsRound {
  round: number;
  /** Time to open every host's connection and all held sessions. */
  holdSetupMs: number;
  heldSessions: number;
  connections: number;
  serial: Latencies;
  burst: Latencies & { commandsPerSecond: number };
}

export interface SshSessionsResult {
  rounds: SshSessionsRound[];
  median: {
    serialP50Ms: number;
    serialP99Ms: number;
    burstP50Ms: number;
    burstP99Ms: number;
    burstCommandsPerSecond: number;
    holdSetupMs: number;
  };
  /** One real OpenSSH host, serial trivial commands (includes sshd starting the shell). */
  realSshd: (Latencies & { sshd: string }) | { skipped: string };
  goal: { p50Ms: number; met: boolean };
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] as number;
}

function latencies(xs: readonly number[]): Latencies {
  const s = [...xs].sort((a, b) => a - b);
  return {
    count: s.length,
    p50Ms: round(percentile(s, 50), 3),
    p90Ms: round(percentile(s, 90), 3),
    p99Ms: round(percentile(s, 99), 3),
    maxMs: round(s.at(-1) ?? Number.NaN, 3),
    meanMs: round(s.reduce((a, b) => a + b, 0) / Math.max(1, s.length), 3),
  };
}

interface KeyPair {
  private: string;
  /** `ssh-ed25519 AAAA… comment` */
  public: string;
  parsed: ParsedKey;
}

/**
 * An ed25519 key pair that ssh2 can read back. ssh2's generator sometimes (about 1 in 250) writes
 * a 31-byte public key (a leading zero byte dropped) that its own parser rejects: try again.
 */
function sureKey(): KeyPair {
  for (let i = 0; i < 20; i++) {
    const k = ssh2.utils.generateKeyPairSync("ed25519");
    const priv = ssh2.utils.parseKey(k.private);
    const pub = ssh2.utils.parseKey(k.public);
    if (!(priv instanceof Error) && !(pub instanceof Error) && !Array.isArray(pub))
      return { private: k.private, public: k.public, parsed: pub };
  }
  throw new Error("could not generate a readable ed25519 key in 20 tries");
}

interface BenchHost {
  port: number;
  hostKey: KeyPair;
  /** Exec requests received: held and answered. */
  received: { held: number; answered: number };
  close(): Promise<void>;
}

/** An in-process SSH host that answers every exec at once (exit 0), except holds (never answered). */
async function startBenchHost(user: string, clientKey: ParsedKey): Promise<BenchHost> {
  const hostKey = sureKey();
  const received = { held: 0, answered: 0 };
  const held = new Set<ServerChannel>();
  const server = new ssh2.Server({ hostKeys: [hostKey.private] }, (client) => {
    // ssh2's server Connection has setNoDelay at run time; @types/ssh2 leaves it out.
    (client as typeof client & { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
    client.on("error", () => undefined);
    client.on("authentication", (ctx) => {
      if (ctx.method !== "publickey" || ctx.username !== user) return ctx.reject(["publickey"]);
      if (!clientKey.getPublicSSH().equals(ctx.key.data)) return ctx.reject(["publickey"]);
      if (!ctx.signature) return ctx.accept();
      if (ctx.blob && clientKey.verify(ctx.blob, ctx.signature, ctx.hashAlgo) === true) return ctx.accept();
      return ctx.reject(["publickey"]);
    });
    client.on("ready", () => {
      client.on("session", (accept) => {
        const session = accept();
        session.on("env", (_a, reject) => reject?.());
        session.on("signal", (a) => a?.());
        session.on("exec", (acceptExec, _reject, info) => {
          const stream = acceptExec();
          stream.on("error", () => undefined);
          if (info.command.includes(HOLD)) {
            received.held++;
            held.add(stream);
            stream.on("close", () => held.delete(stream));
            return;
          }
          received.answered++;
          stream.exit(0);
          stream.end();
        });
      });
    });
  });
  server.on("error", () => undefined);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    hostKey,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of held) s.destroy();
        server.close(() => resolve());
      }),
  };
}

function benchHost(name: string, address: string, port: number, user: string): Host {
  return {
    name,
    address,
    port,
    user,
    connection: "ssh",
    region: "bench",
    failureDomains: {},
    role: "worker",
    groups: [],
    vars: {},
  };
}

async function timedExec(transport: SshTransport, host: Host): Promise<number> {
  const t0 = performance.now();
  const r = await transport.exec(host, { command: TRIVIAL, timeoutMs: 30_000 });
  const ms = performance.now() - t0;
  if (r.exitCode !== 0) throw new Error(`${host.name}: trivial command exited ${r.exitCode}: ${r.stderr}`);
  return ms;
}

async function waitFor(what: string, ok: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`${what} not reached within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function oneRound(scratch: string, cfg: SshSessionsConfig, n: number): Promise<SshSessionsRound> {
  const dir = join(scratch, `ssh-sessions-${n}`);
  mkdirSync(dir, { recursive: true });
  const client = sureKey();
  const keyFile = join(dir, "id_ed25519");
  writeFileSync(keyFile, client.private, { mode: 0o600 });
  const servers: BenchHost[] = [];
  let transport: SshTransport | undefined;
  const held: Promise<unknown>[] = [];
  try {
    for (let i = 0; i < cfg.hosts; i++) servers.push(await startBenchHost("bench", client.parsed));
    const knownHosts = join(dir, "known_hosts");
    writeFileSync(
      knownHosts,
      servers
        .map((s) => `[127.0.0.1]:${s.port} ${s.hostKey.public.split(/\s+/).slice(0, 2).join(" ")}\n`)
        .join(""),
    );
    const hosts = servers.map((s, i) =>
      benchHost(`bench${String(i + 1).padStart(3, "0")}`, "127.0.0.1", s.port, "bench"),
    );
    const t = createSshTransport({
      knownHostsFile: knownHosts,
      hostKeyChecking: "strict",
      sshConfigFile: null,
      agent: null,
      identityFiles: [keyFile],
      defaultUser: "bench",
    });
    transport = t;
    const expected = cfg.hosts * cfg.channelsPerHost;
    const sum = (f: (s: BenchHost) => number) => servers.reduce((a, s) => a + f(s), 0);

    // 1. hold
    const t0 = performance.now();
    for (const h of hosts) {
      for (let c = 0; c < cfg.channelsPerHost; c++) {
        // Ends "dropped" when the transport closes at the end of the round; that is expected.
        held.push(t.exec(h, { command: `${HOLD} ${c}`, timeoutMs: 3_600_000 }).catch((e: unknown) => e));
      }
    }
    await waitFor(
      `${expected} held sessions`,
      () => sum((s) => s.received.held) >= expected && t.stats().channels >= expected,
      120_000,
    );
    const holdSetupMs = performance.now() - t0;
    const connections = t.stats().connections;

    // 2. serial
    const serial: number[] = [];
    for (let i = 0; i < cfg.commands; i++) serial.push(await timedExec(t, hosts[i % hosts.length] as Host));

    // 3. bursts
    const burst: number[] = [];
    let burstWallMs = 0;
    for (let b = 0; b < cfg.bursts; b++) {
      const b0 = performance.now();
      const all = await Promise.all(
        hosts.flatMap((h) => Array.from({ length: cfg.channelsPerHost }, () => timedExec(t, h))),
      );
      burstWallMs += performance.now() - b0;
      burst.push(...all);
    }
    const heldNow = t.stats().channels;
    if (heldNow < expected) throw new Error(`only ${heldNow} of ${expected} held sessions left at the end`);
    const answered = sum((s) => s.received.answered);
    if (answered !== serial.length + burst.length)
      throw new Error(
        `the servers answered ${answered} commands, ${serial.length + burst.length} were timed`,
      );

    return {
      round: n,
      holdSetupMs: round(holdSetupMs),
      heldSessions: heldNow,
      connections,
      serial: latencies(serial),
      burst: { ...latencies(burst), commandsPerSecond: round(burst.length / (burstWallMs / 1000)) },
    };
  } finally {
    await transport?.close();
    await Promise.all(held);
    await Promise.all(servers.map((s) => s.close()));
  }
}

/** Serial trivial commands against one real sshd host (see the header). */
async function realSshd(commands: number): Promise<SshSessionsResult["realSshd"]> {
  const avail = sshdAvailability();
  if (!avail.ok) return { skipped: avail.reason };
  const fleet = await SshdFleet.start({ hosts: 1, firstAddress: "127.0.0.91", prefix: "real" });
  const t = createSshTransport({
    knownHostsFile: fleet.knownHosts,
    hostKeyChecking: "strict",
    sshConfigFile: null,
    agent: null,
    identityFiles: [fleet.clientKey],
  });
  try {
    const h = fleet.hosts[0] as (typeof fleet.hosts)[number];
    const host = benchHost(h.name, h.address, h.port, fleet.user);
    for (let i = 0; i < 10; i++) await timedExec(t, host); // connect, warm up
    const xs: number[] = [];
    for (let i = 0; i < commands; i++) xs.push(await timedExec(t, host));
    return { ...latencies(xs), sshd: fleet.sshdVersion };
  } finally {
    await t.close();
    await fleet.close();
  }
}

export async function runSshSessions(
  scratch: string,
  cfg: SshSessionsConfig,
  log: (line: string) => void,
): Promise<SshSessionsResult> {
  // Untimed warm-up (JIT, crypto): a small round.
  await oneRound(scratch, { ...cfg, hosts: 4, commands: 200, bursts: 2 }, 0);
  const rounds: SshSessionsRound[] = [];
  for (let i = 1; i <= cfg.rounds; i++) {
    const r = await oneRound(scratch, cfg, i);
    rounds.push(r);
    log(
      `  round ${i}/${cfg.rounds}: ${r.heldSessions} sessions held on ${r.connections} connections ` +
        `(set up in ${(r.holdSetupMs / 1000).toFixed(2)} s); serial p50 ${r.serial.p50Ms} ms, ` +
        `p99 ${r.serial.p99Ms} ms; burst of ${cfg.hosts * cfg.channelsPerHost}: p50 ${r.burst.p50Ms} ms, ` +
        `p99 ${r.burst.p99Ms} ms, ${r.burst.commandsPerSecond} commands/s`,
    );
  }
  const med = (f: (r: SshSessionsRound) => number) => round(median(rounds.map(f)), 3);
  const m = {
    serialP50Ms: med((r) => r.serial.p50Ms),
    serialP99Ms: med((r) => r.serial.p99Ms),
    burstP50Ms: med((r) => r.burst.p50Ms),
    burstP99Ms: med((r) => r.burst.p99Ms),
    burstCommandsPerSecond: med((r) => r.burst.commandsPerSecond),
    holdSetupMs: med((r) => r.holdSetupMs),
  };
  const real = await realSshd(Math.min(cfg.commands, 200));
  return {
    rounds,
    median: m,
    realSshd: real,
    goal: { p50Ms: GOAL_P50_MS, met: m.serialP50Ms <= GOAL_P50_MS },
  };
}

export function summarizeSshSessions(r: SshSessionsResult, cfg: SshSessionsConfig): string[] {
  const m = r.median;
  const real = r.realSshd;
  return [
    `  median: ${cfg.hosts * cfg.channelsPerHost} sessions held; per-command overhead (trivial command, one at a ` +
      `time) p50 ${m.serialP50Ms} ms, p99 ${m.serialP99Ms} ms`,
    `  under a burst of ${cfg.hosts * cfg.channelsPerHost} at once: p50 ${m.burstP50Ms} ms, p99 ${m.burstP99Ms} ms, ` +
      `${m.burstCommandsPerSecond} commands/s; connect + hold set-up ${(m.holdSetupMs / 1000).toFixed(2)} s`,
    "skipped" in real
      ? `  real sshd reference: skipped (${real.skipped})`
      : `  real sshd reference (${real.sshd}, includes sshd starting the shell): p50 ${real.p50Ms} ms, ` +
        `p99 ${real.p99Ms} ms over ${real.count} commands`,
    r.goal.met
      ? `  GOAL MET: p50 ${m.serialP50Ms} ms <= ${GOAL_P50_MS} ms`
      : `  GOAL NOT MET: p50 ${m.serialP50Ms} ms > ${GOAL_P50_MS} ms`,
  ];
}
