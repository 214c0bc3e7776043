/**
 * A fleet of real OpenSSH `sshd` hosts on loopback, for the SSH end-to-end suite and the SSH
 * benches (issue 5): N sshd instances (20 by default) on 127.0.0.11, .12, … (all of 127/8 is
 * loopback on Linux), one port shared by all of them, each with its own host key, sshd_config,
 * log and state directory.
 *
 * A simulated host is its sshd plus its state directory `<fleet>/<host>/state/`:
 * - `boot_id`: a fresh UUID per "boot"; `version`: the installed package version ("1.0" at first);
 *   `app.conf`: its configuration (`workers = 4`); `backups/`: where plans put backups.
 * - `reboot`: detaches (setsid, nohup, without the session marker), kills that host's sshd and
 *   every process still running in its sessions (a reboot drops every connection), waits the
 *   host's boot time (`<host>/boot-seconds`, default 3 s), writes a new `boot_id` and starts the
 *   sshd again — unless `state/never-returns` exists, in which case the host stays down.
 * - sshd's `SetEnv` gives every session `STATE_DIR` and `FLEET_HOST` (a real host has its own
 *   filesystem; here the state directory stands in for it, so plans and playbooks write
 *   `$STATE_DIR/version`), and `OVERHAUL_FLEET_HOST=<fleet id>/<host>`, a marker that lets the
 *   reboot and the clean-up find every process started in a session of that host, even one that
 *   outlived its connection (a hanging command the client gave up on).
 *
 * Invariants:
 * - Talks only to loopback. Never touches ~/.ssh: the client key, known_hosts and inventory live
 *   in the fleet's temporary directory and every `ssh` runs with `-F /dev/null`.
 * - Every wait is bounded (readiness, ssh commands, key generation); a timeout is an error naming
 *   the host and what it waited for.
 * - `close()` kills what the fleet started (pending reboots first, so none restarts an sshd; then
 *   each sshd with its connection processes and session processes) and removes the directory; a
 *   process `exit` handler does the same synchronously if a test run ends before `close()`, and a
 *   watchdog shell (its stdin piped from this process) does it when this process dies without
 *   either, even by SIGKILL. Only processes found through this fleet's pid files, their
 *   descendants, or this fleet's marker are signalled — never anything by name.
 * - As root, sshd needs its privilege-separation directory /run/sshd (the Debian service creates
 *   it at boot; a container without init may lack it): it is created (0755) when missing.
 * - `sshdAvailability()` says why the fleet cannot run (no sshd / ssh / ssh-keygen); the caller
 *   decides whether that skips (locally) or fails (CI=true).
 *
 * Imports nothing from vitest, so the benches (tsconfig.bench.json) can use it too.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createConnection, createServer } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";

export const SSHD = process.env.OVERHAUL_TEST_SSHD ?? "/usr/sbin/sshd";
const SSH = "/usr/bin/ssh";
const SSH_KEYGEN = "/usr/bin/ssh-keygen";
const SFTP_SERVER_CANDIDATES = ["/usr/lib/openssh/sftp-server", "/usr/libexec/openssh/sftp-server"];

export type Availability = { ok: true; version: string } | { ok: false; reason: string };

/** Whether a real-sshd fleet can run here, and if not, why (with the package that would fix it). */
export function sshdAvailability(): Availability {
  for (const [bin, pkg] of [
    [SSHD, "openssh-server"],
    [SSH, "openssh-client"],
    [SSH_KEYGEN, "openssh-client"],
  ] as const) {
    if (!existsSync(bin)) return { ok: false, reason: `${bin} is missing (apt-get install ${pkg})` };
  }
  if (process.platform !== "linux")
    return { ok: false, reason: "the sshd fleet needs Linux (all of 127/8 on loopback, /proc)" };
  return { ok: true, version: sshdVersion() };
}

/** "OpenSSH_9.2p1 Debian-2+deb12u3, OpenSSL 3.0.x": what `sshd -V` prints. */
export function sshdVersion(): string {
  const r = spawnSync(SSHD, ["-V"], { encoding: "utf8", timeout: 5_000 });
  return `${r.stderr ?? ""}${r.stdout ?? ""}`.trim().split("\n")[0] ?? "unknown";
}

function opensshAtLeast(version: string, major: number, minor: number): boolean {
  const m = /OpenSSH_(\d+)\.(\d+)/.exec(version);
  if (!m) return false;
  const [a, b] = [Number(m[1]), Number(m[2])];
  return a > major || (a === major && b >= minor);
}

export interface SshdFleetOptions {
  /** Number of hosts (default 20). */
  hosts?: number;
  /** Address of the first host; the others count up in the last octet (default 127.0.0.11). */
  firstAddress?: string;
  /** Port for every host (default: one that is free on every address). */
  port?: number;
  /** Seconds a reboot keeps the host down (default 3). */
  bootSeconds?: number;
  /** Hosts per rack (default 4) and per region (default 10). */
  hostsPerRack?: number;
  hostsPerRegion?: number;
  /** Host names: `${prefix}01`… (default "ssh"). */
  prefix?: string;
  /** Initial `version` file of every host (default "1.0"). */
  version?: string;
  /** How long to wait for each sshd to answer (default 15 s). */
  readyTimeoutMs?: number;
}

export interface FleetHost {
  name: string;
  address: string;
  port: number;
  region: string;
  rack: string;
  /** `<fleet>/<name>`: sshd config, host key, pid file, log, boot time. */
  dir: string;
  /** `<fleet>/<name>/state`: boot_id, version, app.conf, backups/, reboot. */
  stateDir: string;
  /** `<fleet>/<name>/home`: HOME in this host's sessions. */
  home: string;
  sshdConfig: string;
  hostKey: string;
  pidFile: string;
  log: string;
  /** The `OVERHAUL_FLEET_HOST` value every session of this host carries. */
  marker: string;
}

export interface SshResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface InventoryOptions {
  /** Only these hosts (default: all). */
  hosts?: readonly string[];
  /** Extra or overriding variables per host, written on the host's line. */
  hostVars?: Readonly<Record<string, Readonly<Record<string, string | number>>>>;
  /** Extra `[name]` groups: host names per group. */
  groups?: Readonly<Record<string, readonly string[]>>;
  /** Extra `[all:vars]` lines. */
  allVars?: Readonly<Record<string, string | number>>;
  /** Hosts that are not sshd hosts of the fleet (e.g. an unreachable address), with their variables. */
  extraHosts?: Readonly<Record<string, Readonly<Record<string, string | number>>>>;
}

const DEFAULTS = {
  hosts: 20,
  firstAddress: "127.0.0.11",
  bootSeconds: 3,
  hostsPerRack: 4,
  hostsPerRegion: 10,
  prefix: "ssh",
  version: "1.0",
  readyTimeoutMs: 15_000,
};
const REGIONS = ["eu-west", "us-east", "ap-south", "sa-east"];

/** One shell word, quoted for sh. */
export function shq(s: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** A value for an INI inventory line: double-quoted when it has spaces (as Ansible writes them). */
function iniValue(v: string | number): string {
  const s = String(v);
  return /^[^\s"'#;=]+$/.test(s) ? s : `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

function run(
  cmd: string,
  args: readonly string[],
  opts: { timeoutMs: number; env?: NodeJS.ProcessEnv; input?: string },
): Promise<SshResult & { timedOut: boolean }> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(cmd, args, {
      env: opts.env ?? process.env,
      stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    child.stdout?.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr?.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, opts.timeoutMs);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, timedOut });
    });
  });
}

async function runOk(cmd: string, args: readonly string[], what: string, env?: NodeJS.ProcessEnv) {
  const r = await run(cmd, args, { timeoutMs: 20_000, ...(env ? { env } : {}) });
  if (r.timedOut) throw new Error(`${what}: ${cmd} did not finish within 20s`);
  if (r.code !== 0)
    throw new Error(`${what}: ${cmd} exited ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`);
  return r;
}

function nthAddress(first: string, i: number): string {
  const parts = first.split(".").map(Number);
  if (parts.length !== 4 || parts[0] !== 127 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255))
    throw new Error(`firstAddress must be an IPv4 loopback address (127.x.y.z), not "${first}"`);
  const last = (parts[3] as number) + i;
  if (last > 254) throw new Error(`too many hosts from ${first}: host ${i + 1} would need .${last}`);
  return `${parts[0]}.${parts[1]}.${parts[2]}.${last}`;
}

function canListen(address: string, port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(undefined));
    srv.listen({ host: address, port, exclusive: true }, () => {
      const a = srv.address();
      const got = typeof a === "object" && a ? a.port : undefined;
      srv.close(() => resolve(got));
    });
  });
}

/** A port free on every address (bounded tries). */
async function freePort(addresses: readonly string[]): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const port = await canListen(addresses[0] as string, 0);
    if (port === undefined) continue;
    const ok = await Promise.all(addresses.map((a) => canListen(a, port)));
    if (ok.every((p) => p === port)) return port;
  }
  throw new Error(`no port is free on all of ${addresses[0]}…${addresses.at(-1)} after 20 tries`);
}

/** Resolves once the address answers with an SSH banner; rejects after `timeoutMs`. */
export async function waitForBanner(address: string, port: number, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last = "no answer";
  while (Date.now() < deadline) {
    const got = await new Promise<string | Error>((resolve) => {
      const sock = createConnection({ host: address, port });
      let buf = "";
      const done = (v: string | Error) => {
        sock.destroy();
        resolve(v);
      };
      sock.setTimeout(Math.max(100, Math.min(2_000, deadline - Date.now())), () =>
        done(new Error("no banner")),
      );
      sock.on("data", (d: Buffer) => {
        buf += d.toString("latin1");
        const nl = buf.indexOf("\n");
        if (nl >= 0) done(buf.slice(0, nl).trim());
      });
      sock.on("error", (e) => done(e));
      sock.on("close", () => done(new Error("closed before the banner")));
    });
    if (typeof got === "string" && got.startsWith("SSH-")) return got;
    last = typeof got === "string" ? `unexpected banner "${got}"` : got.message;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`sshd on ${address}:${port} did not answer within ${timeoutMs} ms (${last})`);
}

/** Parent pid of every process (Linux /proc), for walking a process tree. */
function parentPids(): Map<number, number> {
  const parents = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // "pid (comm) state ppid …": comm may hold spaces and parentheses.
      const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      parents.set(Number(entry), Number(rest[1]));
    } catch {
      // gone meanwhile
    }
  }
  return parents;
}

function descendants(roots: readonly number[], parents: Map<number, number>): number[] {
  const out = new Set<number>();
  let frontier = new Set(roots);
  while (frontier.size > 0) {
    const next = new Set<number>();
    for (const [pid, ppid] of parents) if (frontier.has(ppid) && !out.has(pid)) next.add(pid);
    for (const p of next) out.add(p);
    frontier = next;
  }
  return [...out];
}

/** Processes whose environment carries `OVERHAUL_FLEET_HOST=<prefix>…` (this fleet's sessions). */
function markedPids(prefix: string): number[] {
  const needle = `OVERHAUL_FLEET_HOST=${prefix}`;
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const env = readFileSync(`/proc/${entry}/environ`, "latin1");
      if (env.split("\0").some((kv) => kv.startsWith(needle))) pids.push(Number(entry));
    } catch {
      // gone, or not ours to read
    }
  }
  return pids;
}

function readPid(file: string): number | undefined {
  try {
    const n = Number(readFileSync(file, "utf8").trim());
    return Number.isInteger(n) && n > 1 ? n : undefined;
  } catch {
    return undefined;
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/** Running (a zombie is not: where pid 1 does not reap, a killed sshd stays one). */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

export class SshdFleet {
  readonly id: string;
  readonly dir: string;
  readonly hosts: readonly FleetHost[];
  readonly port: number;
  readonly user: string;
  readonly clientKey: string;
  readonly knownHosts: string;
  /**
   * An empty OpenSSH client config: pass it (`--ssh-config`, `ssh -F`) so that the runner's own
   * ~/.ssh/config cannot change how the fleet is reached.
   */
  readonly sshConfig: string;
  /** The INI inventory of every host (see `writeInventory` for variants). */
  readonly inventory: string;
  readonly sshdVersion: string;
  private closed = false;
  private readonly onExit = () => this.killAllSync();
  private readonly watchdog: ChildProcess;

  private constructor(init: {
    id: string;
    dir: string;
    hosts: FleetHost[];
    port: number;
    user: string;
    sshdVersion: string;
  }) {
    this.id = init.id;
    this.dir = init.dir;
    this.hosts = init.hosts;
    this.port = init.port;
    this.user = init.user;
    this.sshdVersion = init.sshdVersion;
    this.clientKey = join(init.dir, "client", "id_ed25519");
    this.knownHosts = join(init.dir, "client", "known_hosts");
    this.sshConfig = join(init.dir, "client", "ssh_config");
    this.inventory = join(init.dir, "inventory.ini");
    process.once("exit", this.onExit);
    this.watchdog = startWatchdog(init.dir, init.id);
  }

  /** Create the keys, configs and state of every host and start every sshd; waits until all answer. */
  static async start(options: SshdFleetOptions = {}): Promise<SshdFleet> {
    const o = { ...DEFAULTS, ...options };
    const avail = sshdAvailability();
    if (!avail.ok) throw new Error(avail.reason);
    if (!Number.isInteger(o.hosts) || o.hosts < 1) throw new Error(`hosts must be >= 1, not ${o.hosts}`);
    if (typeof process.getuid === "function" && process.getuid() === 0 && !existsSync("/run/sshd"))
      mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });

    const addresses = Array.from({ length: o.hosts }, (_, i) => nthAddress(o.firstAddress, i));
    const port = options.port ?? (await freePort(addresses));
    const id = randomBytes(6).toString("hex");
    const dir = mkdtempSync(join(tmpdir(), "overhaul-sshd-fleet-"));
    const width = Math.max(2, String(o.hosts).length);
    const hosts: FleetHost[] = addresses.map((address, i) => {
      const name = `${o.prefix}${String(i + 1).padStart(width, "0")}`;
      const hdir = join(dir, name);
      return {
        name,
        address,
        port,
        region: REGIONS[Math.floor(i / o.hostsPerRegion) % REGIONS.length] as string,
        rack: `rack${Math.floor(i / o.hostsPerRack) + 1}`,
        dir: hdir,
        stateDir: join(hdir, "state"),
        home: join(hdir, "home"),
        sshdConfig: join(hdir, "sshd_config"),
        hostKey: join(hdir, "ssh_host_ed25519_key"),
        pidFile: join(hdir, "sshd.pid"),
        log: join(hdir, "sshd.log"),
        marker: `${id}/${name}`,
      };
    });
    const fleet = new SshdFleet({
      id,
      dir,
      hosts,
      port,
      user: userInfo().username,
      sshdVersion: avail.version,
    });
    try {
      await fleet.prepare(o);
      await Promise.all(hosts.map((h) => fleet.startHost(h.name, o.readyTimeoutMs)));
      // One real login proves the key, the user and the account (a locked account refuses keys
      // when sshd runs without PAM) before any test depends on it.
      const first = hosts[0] as FleetHost;
      const probe = await fleet.ssh(first.name, 'cat "$STATE_DIR/boot_id"', { timeoutMs: 15_000 });
      if (probe.code !== 0) {
        throw new Error(
          `cannot log in to ${first.name} (${first.address}:${port}) as ${fleet.user} with the fleet's key ` +
            `(exit ${probe.code}): ${probe.stderr.trim()}; sshd log: ${fleet.logTail(first.name)}`,
        );
      }
      return fleet;
    } catch (e) {
      await fleet.close();
      throw e;
    }
  }

  private async prepare(o: typeof DEFAULTS): Promise<void> {
    const client = join(this.dir, "client");
    mkdirSync(client, { mode: 0o700 });
    await runOk(
      SSH_KEYGEN,
      ["-q", "-t", "ed25519", "-N", "", "-C", `overhaul-test-fleet-${this.id}`, "-f", this.clientKey],
      "client key",
    );
    chmodSync(this.clientKey, 0o600);
    const authorizedKeys = join(client, "authorized_keys");
    writeFileSync(authorizedKeys, readFileSync(`${this.clientKey}.pub`));
    const sftp = SFTP_SERVER_CANDIDATES.find((p) => existsSync(p));
    const penalties = opensshAtLeast(this.sshdVersion, 9, 8);

    await Promise.all(
      this.hosts.map(async (h) => {
        mkdirSync(join(h.stateDir, "backups"), { recursive: true });
        mkdirSync(h.home, { recursive: true });
        await this.generateHostKey(h);
        writeFileSync(join(h.stateDir, "boot_id"), `${randomUuid()}\n`);
        writeFileSync(join(h.stateDir, "version"), `${o.version}\n`);
        writeFileSync(join(h.stateDir, "app.conf"), "workers = 4\n");
        writeFileSync(join(h.dir, "boot-seconds"), `${o.bootSeconds}\n`);
        writeFileSync(
          h.sshdConfig,
          [
            `# sshd of test host ${h.name} (fleet ${this.id})`,
            `ListenAddress ${h.address}`,
            `Port ${h.port}`,
            `HostKey ${h.hostKey}`,
            `PidFile ${h.pidFile}`,
            `AuthorizedKeysFile ${authorizedKeys}`,
            "UsePAM no",
            "StrictModes no",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PubkeyAuthentication yes",
            "PermitRootLogin prohibit-password",
            "UseDNS no",
            "PrintMotd no",
            "PrintLastLog no",
            "X11Forwarding no",
            "AcceptEnv LANG LC_*",
            "LogLevel VERBOSE",
            // Newer sshd (9.8+) penalizes a source address after failed logins; every test client is
            // 127.0.0.1, so one "wrong user" case would lock the others out.
            ...(penalties ? ["PerSourcePenalties no"] : []),
            // A home of its own: the user's login shell reads this host's dotfiles (none), not the
            // test machine's (whose ~/.bashrc may do anything, e.g. take a lock or print).
            `SetEnv HOME=${h.home} STATE_DIR=${h.stateDir} FLEET_HOST=${h.name} OVERHAUL_FLEET_HOST=${h.marker}`,
            ...(sftp ? [`Subsystem sftp ${sftp}`] : []),
            "",
          ].join("\n"),
        );
        writeFileSync(join(h.stateDir, "reboot"), rebootScript(h), { mode: 0o755 });
      }),
    );
    writeFileSync(this.knownHosts, this.hosts.map((h) => this.knownHostsLine(h)).join(""));
    writeFileSync(
      this.sshConfig,
      "# empty on purpose: the test fleet is reached with the inventory's settings only\n",
    );
    this.writeInventory(this.inventory);
  }

  private async generateHostKey(h: FleetHost): Promise<void> {
    rmSync(h.hostKey, { force: true });
    rmSync(`${h.hostKey}.pub`, { force: true });
    await runOk(
      SSH_KEYGEN,
      ["-q", "-t", "ed25519", "-N", "", "-C", `${h.name}-host-key`, "-f", h.hostKey],
      `host key of ${h.name}`,
    );
    chmodSync(h.hostKey, 0o600);
  }

  /** `[127.0.0.11]:2222 ssh-ed25519 AAAA…` for the host's current key. */
  knownHostsLine(h: FleetHost): string {
    const [type, key] = readFileSync(`${h.hostKey}.pub`, "utf8").trim().split(/\s+/);
    const name = h.port === 22 ? h.address : `[${h.address}]:${h.port}`;
    return `${name} ${type} ${key}\n`;
  }

  host(name: string): FleetHost {
    const h = this.hosts.find((x) => x.name === name);
    if (!h) throw new Error(`no host "${name}" in the fleet (${this.hosts.map((x) => x.name).join(", ")})`);
    return h;
  }

  /** The INI inventory of the fleet (or of some of its hosts, with overrides), written to `path`. */
  writeInventory(path: string, opts: InventoryOptions = {}): string {
    const chosen = opts.hosts ? opts.hosts.map((n) => this.host(n)) : [...this.hosts];
    const lines: string[] = [
      `# ${chosen.length} real sshd hosts on loopback (test/support/sshd-fleet.ts), fleet ${this.id}`,
    ];
    const byRegion = new Map<string, FleetHost[]>();
    for (const h of chosen) byRegion.set(h.region, [...(byRegion.get(h.region) ?? []), h]);
    const groupName = (region: string) => region.replace(/-/g, "_");
    for (const [region, hs] of byRegion) {
      lines.push("", `[${groupName(region)}]`);
      for (const h of hs) {
        const vars: Record<string, string | number> = {
          ansible_host: h.address,
          ansible_port: h.port,
          overhaul_rack: h.rack,
          rack: h.rack,
          state_dir: h.stateDir,
          overhaul_boot_id_command: `cat ${h.stateDir}/boot_id`,
          overhaul_reboot_command: `${h.stateDir}/reboot`,
          ...opts.hostVars?.[h.name],
        };
        lines.push(
          `${h.name} ${Object.entries(vars)
            .map(([k, v]) => `${k}=${iniValue(v)}`)
            .join(" ")}`,
        );
      }
      lines.push("", `[${groupName(region)}:vars]`, `overhaul_region=${region}`, `region=${region}`);
    }
    if (opts.extraHosts && Object.keys(opts.extraHosts).length > 0) {
      lines.push("", "[extra]");
      for (const [name, vars] of Object.entries(opts.extraHosts)) {
        lines.push(
          `${name} ${Object.entries(vars)
            .map(([k, v]) => `${k}=${iniValue(v)}`)
            .join(" ")}`,
        );
      }
    }
    for (const [group, members] of Object.entries(opts.groups ?? {})) {
      lines.push("", `[${group}]`, ...members);
    }
    lines.push("", "[fleet:children]", ...[...byRegion.keys()].map(groupName));
    if (opts.extraHosts && Object.keys(opts.extraHosts).length > 0) lines.push("extra");
    const all: Record<string, string | number> = {
      ansible_connection: "ssh",
      ansible_user: this.user,
      ansible_ssh_private_key_file: this.clientKey,
      ansible_python_interpreter: "/usr/bin/python3",
      ...opts.allVars,
    };
    lines.push("", "[all:vars]", ...Object.entries(all).map(([k, v]) => `${k}=${iniValue(v)}`), "");
    writeFileSync(path, lines.join("\n"));
    return path;
  }

  /** `ssh` (OpenSSH's client) to a host: strict host key checking against the fleet's known_hosts. */
  sshArgs(h: FleetHost, opts: { user?: string; connectTimeoutS?: number } = {}): string[] {
    return [
      "-F",
      "/dev/null",
      "-i",
      this.clientKey,
      "-o",
      "IdentitiesOnly=yes",
      "-o",
      `UserKnownHostsFile=${this.knownHosts}`,
      "-o",
      "GlobalKnownHostsFile=/dev/null",
      "-o",
      "StrictHostKeyChecking=yes",
      "-o",
      "BatchMode=yes",
      "-o",
      `ConnectTimeout=${opts.connectTimeoutS ?? 5}`,
      "-o",
      "LogLevel=ERROR",
      "-p",
      String(h.port),
      "-l",
      opts.user ?? this.user,
      h.address,
    ];
  }

  /** Run `command` on a host over SSH (bounded by `timeoutMs`, default 15 s). */
  async ssh(
    name: string,
    command: string,
    opts: { timeoutMs?: number; user?: string } = {},
  ): Promise<SshResult> {
    const h = this.host(name);
    const timeoutMs = opts.timeoutMs ?? 15_000;
    const r = await run(SSH, [...this.sshArgs(h, opts), "--", command], { timeoutMs });
    if (r.timedOut) throw new Error(`ssh ${name} "${command}" did not finish within ${timeoutMs} ms`);
    return { code: r.code, stdout: r.stdout, stderr: r.stderr };
  }

  /**
   * Read a host's state over SSH, as an operator would: version, boot_id, app.conf, the backups
   * directory's listing, and whether the never-returns marker is set.
   */
  async readState(name: string): Promise<HostState> {
    const sep = "@@fleet-state@@";
    const cmd = [
      'cd "$STATE_DIR"',
      "cat version",
      `echo ${sep}`,
      "cat boot_id",
      `echo ${sep}`,
      "cat app.conf",
      `echo ${sep}`,
      "ls -1 backups",
      `echo ${sep}`,
      "cat history 2>/dev/null || true",
      `echo ${sep}`,
      "echo $FLEET_HOST",
    ].join(" && ");
    const r = await this.ssh(name, cmd);
    if (r.code !== 0)
      throw new Error(`reading the state of ${name} over SSH failed (exit ${r.code}): ${r.stderr}`);
    const [version, bootId, appConf, backups, history, whoami] = r.stdout.split(`${sep}\n`);
    if (whoami?.trim() !== name) throw new Error(`connected to ${whoami?.trim()} when asking ${name}`);
    return {
      version: (version ?? "").trim(),
      bootId: (bootId ?? "").trim(),
      appConf: appConf ?? "",
      backups: (backups ?? "").split("\n").filter((l) => l.trim() !== ""),
      history: (history ?? "").split("\n").filter((l) => l.trim() !== ""),
    };
  }

  /** Local (not over SSH) read of a state file, for checks on a host that is down. */
  readLocal(name: string, file: string): string | undefined {
    try {
      return readFileSync(join(this.host(name).stateDir, file), "utf8");
    } catch {
      return undefined;
    }
  }

  /** The next reboot of this host never comes back (its sshd stays down). */
  setNeverReturns(name: string, on = true): void {
    const f = join(this.host(name).stateDir, "never-returns");
    if (on) writeFileSync(f, "");
    else rmSync(f, { force: true });
  }

  setBootSeconds(name: string, seconds: number): void {
    writeFileSync(join(this.host(name).dir, "boot-seconds"), `${seconds}\n`);
  }

  isUp(name: string): boolean {
    const pid = readPid(this.host(name).pidFile);
    return pid !== undefined && alive(pid);
  }

  /** Start a host's sshd (if it is not running) and wait for its banner. */
  async startHost(name: string, timeoutMs = 15_000): Promise<void> {
    const h = this.host(name);
    if (this.isUp(name)) return;
    await runOk(SSHD, ["-f", h.sshdConfig, "-E", h.log], `sshd of ${name}`, {
      ...process.env,
      OVERHAUL_FLEET_HOST: h.marker,
    });
    try {
      await waitForBanner(h.address, h.port, timeoutMs);
    } catch (e) {
      throw new Error(`${(e as Error).message}; sshd log of ${name}: ${this.logTail(name)}`);
    }
  }

  /** Stop a host's sshd, every connection to it and everything running in its sessions. */
  async stopHost(name: string): Promise<void> {
    const h = this.host(name);
    this.killHostSync(h);
    const deadline = Date.now() + 5_000;
    const pid = readPid(h.pidFile);
    while (pid !== undefined && alive(pid) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    rmSync(h.pidFile, { force: true });
  }

  /** A new host key (the host was reinstalled, or someone is in the middle): the known_hosts entry no longer matches. */
  async changeHostKey(name: string): Promise<void> {
    const h = this.host(name);
    await this.stopHost(name);
    await this.generateHostKey(h);
    await this.startHost(name);
  }

  /** Wait until a host answers (e.g. after a reboot), bounded. */
  async waitUp(name: string, timeoutMs: number): Promise<void> {
    const h = this.host(name);
    await waitForBanner(h.address, h.port, timeoutMs);
  }

  logTail(name: string, lines = 10): string {
    try {
      return readFileSync(this.host(name).log, "utf8").trim().split("\n").slice(-lines).join(" | ");
    } catch {
      return "(no log)";
    }
  }

  private killHostSync(h: FleetHost): void {
    const reboot = readPid(join(h.stateDir, "reboot.pid"));
    // The detached reboot is its own session and process group: take it (and its sleep) first.
    if (reboot !== undefined) signal(-reboot, "SIGKILL");
    rmSync(join(h.stateDir, "reboot.pid"), { force: true });
    const pid = readPid(h.pidFile);
    const parents = parentPids();
    const pids = pid !== undefined && alive(pid) ? [pid, ...descendants([pid], parents)] : [];
    const marked = markedPids(`${h.marker}`).filter((p) => p !== pid);
    for (const p of [...pids, ...marked, ...descendants(marked, parents)]) signal(p, "SIGKILL");
  }

  /** Synchronous: for the process `exit` handler too. */
  private killAllSync(): void {
    for (const h of this.hosts) {
      const reboot = readPid(join(h.stateDir, "reboot.pid"));
      if (reboot !== undefined) signal(-reboot, "SIGKILL");
    }
    for (const h of this.hosts) this.killHostSync(h);
    // Anything else this fleet's sessions left behind, whatever host it came from.
    const rest = markedPids(`${this.id}/`);
    for (const p of rest) signal(p, "SIGKILL");
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Stop every sshd and everything the fleet started; remove its directory. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    process.off("exit", this.onExit);
    this.killAllSync();
    this.watchdog.stdin?.end("stop\n");
    // Bounded wait for the sshd listeners to be gone, so a next fleet can bind the same addresses.
    const deadline = Date.now() + 5_000;
    for (const h of this.hosts) {
      for (;;) {
        const still = await canListen(h.address, h.port);
        if (still !== undefined || Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }
}

export interface HostState {
  version: string;
  bootId: string;
  appConf: string;
  backups: string[];
  history: string[];
}

/**
 * A shell that outlives this process: when our end of its stdin closes without a "stop" line
 * (this process died), it does what `close()` does — pending reboots, every sshd with its
 * connections, every process of the fleet's sessions — and removes the directory.
 */
function startWatchdog(dir: string, id: string): ChildProcess {
  const script = [
    'if read -r line && [ "$line" = stop ]; then exit 0; fi',
    'for f in "$1"/*/state/reboot.pid; do [ -f "$f" ] && kill -s KILL -- "-$(cat "$f")" 2>/dev/null; done',
    'for f in "$1"/*/sshd.pid; do',
    '  [ -f "$f" ] || continue',
    '  pid=$(cat "$f"); kids=$(pgrep -P "$pid")',
    '  for k in $kids; do kill -s KILL $(pgrep -P "$k") 2>/dev/null; done',
    '  kill -s KILL "$pid" $kids 2>/dev/null',
    "done",
    'for f in $(grep -lz "^OVERHAUL_FLEET_HOST=$2/" /proc/[0-9]*/environ 2>/dev/null); do',
    '  kill -s KILL "$(echo "$f" | cut -d/ -f3)" 2>/dev/null',
    "done",
    'rm -rf "$1"',
  ].join("\n");
  const dog = spawn("/bin/sh", ["-c", script, "sshd-fleet-watchdog", dir, id], {
    stdio: ["pipe", "ignore", "ignore"],
    detached: true,
  });
  dog.unref();
  (dog.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  return dog;
}

function randomUuid(): string {
  return readFileSync("/proc/sys/kernel/random/uuid", "utf8").trim();
}

/** The host's `reboot` command (see the header). */
function rebootScript(h: FleetHost): string {
  return `#!/bin/sh
# Simulated reboot of test host ${h.name}: drops every connection, stays down for the host's boot
# time, comes back with a new boot_id. With state/never-returns present it stays down.
set -u
STATE=${shq(h.stateDir)}
HOSTDIR=${shq(h.dir)}
if [ "\${1:-}" != "--detached" ]; then
  # Detach into a session of its own, without this host's session marker, so that killing the
  # host's processes below does not kill the reboot itself; the SSH command returns at once.
  env -u OVERHAUL_FLEET_HOST setsid nohup "$0" --detached </dev/null >>"$HOSTDIR/reboot.log" 2>&1 &
  echo "rebooting ${h.name}"
  exit 0
fi
echo $$ >"$STATE/reboot.pid"
echo "$(date -u +%FT%TZ) reboot of ${h.name} begins"
sleep 0.2
pid=$(cat ${shq(h.pidFile)} 2>/dev/null || true)
if [ -n "$pid" ]; then
  kids=$(pgrep -P "$pid" || true)
  grandkids=""
  for k in $kids; do grandkids="$grandkids $(pgrep -P "$k" || true)"; done
  kill -KILL "$pid" $kids $grandkids 2>/dev/null || true
fi
for f in $(grep -lzx ${shq(`OVERHAUL_FLEET_HOST=${h.marker}`)} /proc/[0-9]*/environ 2>/dev/null); do
  p=\${f#/proc/}
  kill -KILL "\${p%/environ}" 2>/dev/null || true
done
rm -f ${shq(h.pidFile)}
sleep "$(cat "$HOSTDIR/boot-seconds" 2>/dev/null || echo 3)"
if [ -e "$STATE/never-returns" ] || [ ! -d "$STATE" ]; then
  echo "$(date -u +%FT%TZ) ${h.name} stays down"
  rm -f "$STATE/reboot.pid"
  exit 0
fi
cat /proc/sys/kernel/random/uuid >"$STATE/boot_id.new" && mv "$STATE/boot_id.new" "$STATE/boot_id"
OVERHAUL_FLEET_HOST=${shq(h.marker)} ${shq(SSHD)} -f ${shq(h.sshdConfig)} -E ${shq(h.log)}
echo "$(date -u +%FT%TZ) ${h.name} is back (sshd exit $?)"
rm -f "$STATE/reboot.pid"
`;
}
