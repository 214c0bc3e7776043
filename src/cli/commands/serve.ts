/**
 * `overhaul serve`: the coordinator (engine) and the HTTP API in one process (docs/server.md).
 *
 * Invariants:
 * - Listening beyond loopback needs TLS (`--tls-cert` and `--tls-key`) or `--insecure-listen`;
 *   otherwise it is refused before anything is opened (exit 4).
 * - SIGTERM / SIGINT stop gracefully: the listener closes (live streams end), coordinators start
 *   nothing new, steps in flight finish and leases are released, then the store closes and the
 *   command returns 0. A second signal stops at once (attempts in flight stay in doubt for the
 *   next coordinator, exactly as `overhaul run` detached twice).
 * - The composition happens here: the server (src/server) never sees an adapter.
 */

import { randomInt } from "node:crypto";
import { constants, existsSync } from "node:fs";
import { access, stat } from "node:fs/promises";
import { isIP } from "node:net";
import { join, resolve } from "node:path";
import { createSecureContext } from "node:tls";
import { fileURLToPath } from "node:url";
import { randomSource, systemClock } from "../../adapters/clock/system-clock.js";
import { loadInventory } from "../../adapters/inventory-files/index.js";
import { InputError, SafetyRefusal } from "../../core/errors.js";
import { DEFAULT_COORDINATOR_OPTIONS } from "../../engine/deps.js";
import { AUDIT_MODES, type AuditMode, buildApp } from "../../server/app.js";
import type { ServerDeps } from "../../server/deps.js";
import { Metrics } from "../../server/metrics.js";
import { serveDashboard } from "../../server/static.js";
import { Supervisor } from "../../server/supervisor.js";
import { coordinatorId, openStore, readUserFile } from "../compose.js";
import { createEventLog } from "../event-log.js";
import { EXIT } from "../exit-codes.js";
import { makeOut } from "../output.js";
import { resolveScope } from "../scope.js";
import {
  anchorKeyFiles,
  checkHosts,
  createRunTransport,
  readInventorySecrets,
  type SshFlags,
  secretNames,
  splitSecrets,
  sshOptions,
} from "../transport.js";
import { leaseTtlMs } from "./run.js";

export interface ServeOptions extends SshFlags {
  listen: string;
  inventory?: string;
  tlsCert?: string;
  tlsKey?: string;
  insecureListen?: boolean;
  /** Comma-separated addresses or CIDRs of proxies whose X-Forwarded-For is believed. */
  trustProxy?: string;
  /** `best-effort` (default) or `strict` (docs/server.md, "Audit log"). */
  auditMode?: string;
  leaseTtl: string;
  dashboard?: string;
  db?: string;
  noColor?: boolean;
  /** Tests: a signal that stops the service as SIGTERM would. */
  stop?: AbortSignal;
}

export const VERSION = "0.1.0";

/** `HOST:PORT`, `[V6]:PORT` or `:PORT` (loopback). */
export function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text);
  const port = Number(m?.[3]);
  if (!m || port > 65535) {
    throw new InputError({
      path: "--listen",
      message: `"${text}" is not an address to listen on`,
      expected: "HOST:PORT, e.g. 127.0.0.1:7070, [::1]:7070, 0.0.0.0:443",
    });
  }
  return { host: m[1] ?? (m[2] || "127.0.0.1"), port };
}

export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

function renamePaths(err: unknown): unknown {
  if (!(err instanceof InputError)) return err;
  const names: Record<string, string> = {
    "--limit": "body.limit",
    "--confirm": "body.confirm",
    "--all": "body.all",
  };
  return new InputError(
    err.problems.map((p) => ({ ...p, ...(p.path && names[p.path] ? { path: names[p.path] } : {}) })),
    { cause: err },
  );
}

/** Scope a plan against the service's inventory, as `overhaul run` does (errors name body fields). */
export function inventoryResolver(inventory: string, ssh: SshFlags): NonNullable<ServerDeps["resolveHosts"]> {
  return async (plan, scope, planLabel, hostsAt) => {
    try {
      const inv = await loadInventory(inventory);
      const hosts = resolveScope(inv, plan.hosts, { ...scope, planFile: planLabel, hostsAt });
      await checkHosts(hosts, ssh, inventory);
      // As `overhaul run` stores them: absolute paths, and the names (only) of the secret variables.
      const split = splitSecrets(hosts);
      return {
        hosts: anchorKeyFiles(split.hosts, process.cwd()),
        inventory: resolve(inventory),
        secretVars: secretNames(split.secrets),
      };
    } catch (err) {
      throw renamePaths(err);
    }
  };
}

/** `--trust-proxy`: addresses or CIDRs (IPv4 or IPv6), comma-separated; anything else is exit 2. */
export function proxyList(text: string): string[] {
  const items = text.split(",").map((x) => x.trim());
  const bad = items.filter((x) => {
    const [addr, prefix, ...rest] = x.split("/");
    const family = isIP(addr ?? "");
    if (family === 0 || rest.length > 0) return true;
    if (prefix === undefined) return false;
    const n = Number(prefix);
    return !/^\d{1,3}$/.test(prefix) || n > (family === 4 ? 32 : 128);
  });
  if (items.length === 0 || bad.length > 0) {
    throw new InputError({
      path: "--trust-proxy",
      message: `${bad.map((b) => JSON.stringify(b)).join(", ") || "nothing"} is not an address or CIDR`,
      expected: "comma-separated IP addresses or CIDRs of the proxies in front, e.g. 10.0.0.5,10.1.0.0/16",
    });
  }
  return items;
}

/** `--audit-mode`: one of AUDIT_MODES; anything else is exit 2. */
export function auditMode(text: string | undefined): AuditMode {
  if (text === undefined) return "best-effort";
  const mode = AUDIT_MODES.find((m) => m === text);
  if (mode === undefined)
    throw new InputError({
      path: "--audit-mode",
      message: `"${text}" is not an audit mode`,
      expected: AUDIT_MODES.join(" or "),
    });
  return mode;
}

/** The certificate and key, read and checked before anything starts: a bad one is exit 2 naming it. */
async function tlsFiles(certFile: string, keyFile: string): Promise<{ cert: Buffer; key: Buffer }> {
  const cert = await readUserFile(certFile, "TLS certificate");
  const key = await readUserFile(keyFile, "TLS private key");
  const check = (path: string, file: string, parts: { cert?: string; key?: string }, expected: string) => {
    try {
      createSecureContext(parts);
    } catch (e) {
      throw new InputError({ file, path, message: (e as Error).message, expected }, { cause: e });
    }
  };
  check("--tls-cert", certFile, { cert }, "a PEM certificate (-----BEGIN CERTIFICATE-----)");
  check("--tls-key", keyFile, { key }, "an unencrypted PEM private key (-----BEGIN PRIVATE KEY-----)");
  check("--tls-key", keyFile, { cert, key }, `the private key of the certificate in ${certFile}`);
  return { cert: Buffer.from(cert), key: Buffer.from(key) };
}

export function defaultDashboardDir(): string {
  return fileURLToPath(new URL("../../../dashboard/dist", import.meta.url));
}

/**
 * `--dashboard DIR`, checked before anything starts: a directory whose index.html can be read
 * (what `GET /` serves); anything else is exit 2 naming it, never a service answering 404 at `/`.
 */
export async function checkDashboardDir(dir: string): Promise<void> {
  const expected =
    "the directory of a built dashboard, holding index.html (`npm run build` writes dashboard/dist)";
  const refuse = (message: string, cause?: unknown) =>
    new InputError({ path: "--dashboard", message, expected }, cause !== undefined ? { cause } : undefined);
  const s = await stat(dir).catch((e: NodeJS.ErrnoException) => {
    throw refuse(
      `"${dir}": ${e.code === "ENOENT" || e.code === "ENOTDIR" ? "no such directory" : `cannot be read (${e.code ?? e.message})`}`,
      e,
    );
  });
  if (!s.isDirectory()) throw refuse(`"${dir}" is not a directory`);
  const index = join(dir, "index.html");
  const i = await stat(index).catch(() => undefined);
  if (i === undefined || !i.isFile()) throw refuse(`"${dir}" has no index.html`);
  await access(index, constants.R_OK).catch((e: NodeJS.ErrnoException) => {
    throw refuse(`"${index}" cannot be read (${e.code ?? e.message})`, e);
  });
}

export async function serveCommand(opts: ServeOptions): Promise<number> {
  const out = makeOut({ noColor: opts.noColor });
  const { host, port } = parseListen(opts.listen);
  if ((opts.tlsCert === undefined) !== (opts.tlsKey === undefined)) {
    throw new InputError({
      path: opts.tlsCert ? "--tls-key" : "--tls-cert",
      message: "TLS needs both --tls-cert and --tls-key",
    });
  }
  const tls = opts.tlsCert !== undefined && opts.tlsKey !== undefined;
  if (!isLoopback(host) && !tls && !opts.insecureListen) {
    throw new SafetyRefusal(
      "listen-beyond-loopback",
      `refusing to listen on ${host} without TLS: pass --tls-cert and --tls-key, or --insecure-listen if a proxy in front of it terminates TLS`,
    );
  }
  const ttl = leaseTtlMs(opts.leaseTtl);
  const trustProxy = opts.trustProxy === undefined ? [] : proxyList(opts.trustProxy);
  const audit = auditMode(opts.auditMode);
  sshOptions(opts);
  const https = tls ? await tlsFiles(opts.tlsCert as string, opts.tlsKey as string) : undefined;
  // Read again for every run it starts (edits need no restart), but one that cannot be read at all
  // stops the service here rather than at the first run.
  if (opts.inventory !== undefined) await loadInventory(opts.inventory);
  if (opts.dashboard !== undefined) await checkDashboardDir(opts.dashboard);
  const store = await openStore(opts.db);
  const clock = systemClock();
  const metrics = new Metrics(store, () => clock.now());
  const logs = new Map<string, ReturnType<typeof createEventLog>>();
  const logOf = (runId: string) => {
    let log = logs.get(runId);
    if (!log) {
      log = createEventLog(runId);
      logs.set(runId, log);
    }
    return log;
  };
  const supervisor = new Supervisor({
    store,
    clock,
    random: (seed) => randomSource(seed ^ randomInt(2 ** 31)),
    // Secrets are read again for every run it drives; one it cannot read is said (the run goes on:
    // nobody is there to pass another path, and its sudo with a password then fails `auth`).
    transportFor: async (run) => {
      const path = run.options.inventory;
      const read = typeof path === "string" ? await readInventorySecrets(path) : undefined;
      if (read?.ok === false)
        out.err(
          `overhaul serve: run ${run.id}: going on without its inventory's secret variables: ${read.why}\n`,
        );
      return createRunTransport(opts, read?.ok ? read.secrets : new Map());
    },
    sink: {
      emit(e) {
        metrics.sink.emit(e);
        logOf(e.runId).emit(e);
      },
      // Operators' actions (and other coordinators' work) go to the run's log, not to the metrics,
      // which count this process's coordinators only.
      observe(e) {
        logOf(e.runId).emit(e);
      },
    },
    metrics,
    owner: coordinatorId(),
    leaseTtlMs: ttl,
    tickMs: DEFAULT_COORDINATOR_OPTIONS.tickMs,
    scanMs: 1000,
    onError: (runId, err) =>
      out.err(`overhaul serve: run ${runId}: ${err instanceof Error ? err.message : String(err)}\n`),
  });
  const inventory = opts.inventory;
  const dashboardDir = opts.dashboard ?? defaultDashboardDir();
  const { app } = buildApp(
    {
      store,
      clock,
      random: randomSource(randomInt(2 ** 31)),
      metrics,
      ...(inventory ? { resolveHosts: inventoryResolver(inventory, opts) } : {}),
      onRunChanged: () => void supervisor.scan(),
      log: (line) => out.err(`overhaul serve: ${line}\n`),
    },
    {
      version: VERSION,
      ...(https ? { https } : {}),
      ...(trustProxy.length > 0 ? { trustProxy } : {}),
      auditMode: audit,
      ...(existsSync(dashboardDir) ? { extra: (a) => serveDashboard(a, dashboardDir) } : {}),
    },
  );

  let signals = 0;
  let resolveStop!: () => void;
  const stopped = new Promise<void>((r) => {
    resolveStop = r;
  });
  const onSignal = () => {
    signals++;
    if (signals === 1) {
      out.err(
        "overhaul serve: stopping: steps in flight finish, leases are released (signal again to stop now)\n",
      );
      resolveStop();
    } else {
      out.err("overhaul serve: stopping now: steps in flight are left in doubt for the next coordinator\n");
      void supervisor.stop({ now: true });
    }
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  opts.stop?.addEventListener("abort", onSignal);
  try {
    const address = await app.listen({ host, port });
    out.err(
      `overhaul serve: listening on ${address} (${inventory ? `inventory ${inventory}` : "no inventory: runs cannot be started through the API"})\n`,
    );
    supervisor.start();
    await stopped;
    await app.close();
    await supervisor.stop();
    out.err("overhaul serve: stopped\n");
    return EXIT.ok;
  } finally {
    process.off("SIGTERM", onSignal);
    process.off("SIGINT", onSignal);
    await app.close().catch(() => {});
    await supervisor.stop().catch(() => {});
    for (const log of logs.values()) await log.close();
    await store.close();
  }
}
