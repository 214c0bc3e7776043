/**
 * A real `overhaul serve` app for tests: real SQLite file, real HTTP on 127.0.0.1 port 0, tokens
 * of every role (and a revoked one), and a stored run on two hosts (not driven: no coordinator).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomSource, systemClock } from "../../src/adapters/clock/system-clock.js";
import { openSqliteStore } from "../../src/adapters/store-sql/index.js";
import { inventoryResolver } from "../../src/cli/commands/serve.js";
import type { Role } from "../../src/core/access/roles.js";
import type { Host } from "../../src/core/model/fleet.js";
import { compilePlan } from "../../src/core/plan/compile.js";
import { parsePlanText } from "../../src/core/plan/load.js";
import { createRun } from "../../src/engine/runs.js";
import type { RunRecord, Store } from "../../src/ports/store.js";
import { type AppOptions, buildApp, type ServerApp } from "../../src/server/app.js";
import type { ServerDeps } from "../../src/server/deps.js";
import { Metrics } from "../../src/server/metrics.js";
import { mintToken } from "../../src/server/tokens.js";

export const PLAN_TEXT = `name: api-test
hosts: web
steps:
  - { name: upgrade, kind: command, run: "true", idempotent: true }
  - { name: verify, kind: command, run: "true", idempotent: true, revert: "true" }
`;

export function testHost(name: string, region = "eu"): Host {
  return {
    name,
    address: name,
    connection: "local",
    region,
    failureDomains: { rack: `${region}-r1` },
    role: "worker",
    groups: ["web"],
    vars: { overhaul_bmc: `bmc-${name}` },
  } as Host;
}

export interface TestServer {
  url: string;
  store: Store;
  server: ServerApp;
  run: RunRecord;
  tokens: Record<Role | "revoked", string>;
  close(): Promise<void>;
}

/** `deps`: overrides of the service's dependencies (stream timings, a log). */
export async function startTestServer(
  deps: Partial<ServerDeps> = {},
  appOptions: Partial<AppOptions> = {},
): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), "overhaul-api-"));
  const inventory = join(dir, "inventory.ini");
  writeFileSync(
    inventory,
    "[web]\nweb01 overhaul_region=eu overhaul_rack=eu-r1 overhaul_bmc=bmc-web01\nweb02 overhaul_region=us overhaul_rack=us-r1 overhaul_bmc=bmc-web02\n[all:vars]\nansible_connection=local\n",
  );
  const store = await openSqliteStore(join(dir, "o.db"));
  const clock = systemClock();
  const random = randomSource(7);
  const tokens = {} as Record<Role | "revoked", string>;
  for (const role of ["viewer", "operator", "admin", "revoked"] as const) {
    const m = mintToken({
      name: `t-${role}`,
      role: role === "revoked" ? "admin" : role,
      createdBy: "test",
      now: clock.now(),
    });
    await store.access.createToken(m.record);
    if (role === "revoked") await store.access.revokeToken(m.record.id, clock.now());
    tokens[role] = m.secret;
  }
  const plan = compilePlan(parsePlanText(PLAN_TEXT, "plan.yaml"));
  const hosts = [testHost("web01"), testHost("web02", "us")];
  const run = await createRun(
    { store, clock, random },
    { plan, planBody: PLAN_TEXT, planHash: "h-api-test", hosts, options: {}, actor: "test" },
  );
  const metrics = new Metrics(store, () => clock.now());
  const server = buildApp(
    {
      store,
      clock,
      random,
      metrics,
      streamPollMs: 50,
      resolveHosts: inventoryResolver(inventory, {}),
      ...deps,
    },
    { version: "test", ...appOptions },
  );
  const url = await server.app.listen({ host: "127.0.0.1", port: 0 });
  return {
    url,
    store,
    server,
    run,
    tokens,
    async close() {
      // fetch (undici) may leave connections it opened but never sent a request on; Node keeps
      // those until its headers timeout (~1 min), which would hold close() that long.
      const closing = server.app.close();
      server.app.server.closeAllConnections();
      await closing;
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
