/**
 * `overhaul serve` as a user runs it: the built CLI, a real SQLite file, local hosts, real HTTP
 * on 127.0.0.1. A run is started through the API and watched live; mid-run a /metrics scrape
 * passes `promtool check metrics` (Debian's `prometheus` package); SIGTERM while a step is in
 * flight lets it finish and releases every lease (exit 0, nothing in doubt); a second service
 * picks the run up and finishes it. Listening beyond loopback without TLS is refused (exit 4).
 *
 * Without /usr/bin/promtool the promtool check is skipped with that reason, except under CI=true,
 * where it fails.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openSqliteStore } from "../../src/adapters/store-sql/index.js";
import { runCli, startCli } from "../support/cli.js";
import { startServe } from "../support/serve-cli.js";
import { openSse } from "../support/sse.js";

const PROMTOOL = "/usr/bin/promtool";
const inCi = process.env.CI === "true";

const dir = mkdtempSync(join(tmpdir(), "overhaul-serve-"));
const db = join(dir, "o.db");
const inventory = join(dir, "inventory.ini");
writeFileSync(inventory, "[web]\nweb0[1:3] overhaul_region=eu\n[all:vars]\nansible_connection=local\n");
const PLAN = `name: serve-e2e
hosts: web
concurrency: { global: 2 }
steps:
  - { name: prepare, kind: command, run: "true", idempotent: true }
  - { name: slow, kind: command, run: "sleep 1.2", idempotent: true }
  - { name: finish, kind: command, run: "true", idempotent: true }
`;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const serve = () => startServe(db, ["-i", inventory, "--lease-ttl", "3s"], dir);

describe("overhaul serve (built CLI)", () => {
  it("refuses to listen beyond loopback without TLS", async () => {
    const r = await runCli(["--db", db, "serve", "--listen", "0.0.0.0:0"], { cwd: dir });
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/refusing to listen on 0\.0\.0\.0 without TLS/);
    const bad = await runCli(["--db", db, "serve", "--listen", "nowhere"], { cwd: dir });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--listen: "nowhere" is not an address/);
  });

  it("a missing or malformed TLS certificate is exit 2 naming the file and flag, before the database is opened", async () => {
    const fresh = join(dir, "tls-refused.db");
    writeFileSync(join(dir, "not-a-cert.pem"), "hello\n");
    const missing = await runCli(
      ["--db", fresh, "serve", "--listen", "127.0.0.1:0", "--tls-cert", "nope.pem", "--tls-key", "nope.key"],
      { cwd: dir },
    );
    expect(missing.code, missing.stderr).toBe(2);
    expect(missing.stderr).toContain("nope.pem: cannot read the TLS certificate: no such file");
    const garbage = await runCli(
      [
        "--db",
        fresh,
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--tls-cert",
        "not-a-cert.pem",
        "--tls-key",
        "not-a-cert.pem",
      ],
      { cwd: dir },
    );
    expect(garbage.code, garbage.stderr).toBe(2);
    expect(garbage.stderr).toMatch(/^overhaul: not-a-cert\.pem: --tls-cert: .*\(expected a PEM certificate/);
    for (const r of [missing, garbage]) expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
    expect(existsSync(fresh)).toBe(false);
  });

  it("--audit-mode strict writes an action as requested before its outcome; a bad mode is exit 2", async () => {
    const fresh = join(dir, "audit-strict.db");
    const bad = await runCli(["--db", fresh, "serve", "--listen", "127.0.0.1:0", "--audit-mode", "loud"], {
      cwd: dir,
    });
    expect(bad.code, bad.stderr).toBe(2);
    expect(bad.stderr).toMatch(
      /--audit-mode: "loud" is not an audit mode \(expected best-effort or strict\)/,
    );
    expect(existsSync(fresh)).toBe(false);
    const made = await runCli(["--db", fresh, "token", "create", "--role", "admin", "--name", "root"], {
      cwd: dir,
    });
    expect(made.code, made.stderr).toBe(0);
    const auth = { authorization: `Bearer ${made.stdout.trim()}`, "content-type": "application/json" };
    const s = await startServe(fresh, ["--audit-mode", "strict"], dir);
    try {
      const res = await fetch(`${s.url}/api/tokens`, {
        method: "POST",
        headers: auth,
        body: JSON.stringify({ name: "ci", role: "viewer" }),
      });
      expect(res.status).toBe(201);
      const log = (await (await fetch(`${s.url}/api/audit`, { headers: auth })).json()) as {
        action: string;
        outcome: string;
        status: number;
      }[];
      expect(log.filter((e) => e.action === "token.create").map((e) => [e.outcome, e.status])).toEqual([
        ["ok", 0], // the CLI's own `token create`
        ["requested", 0],
        ["ok", 201],
      ]);
    } finally {
      await s.stop();
    }
  });

  it("an inventory that cannot be read stops serve at start (exit 2 naming it), not at the first run", async () => {
    const fresh = join(dir, "inventory-refused.db");
    const r = await runCli(["--db", fresh, "serve", "--listen", "127.0.0.1:0", "-i", "nope.ini"], {
      cwd: dir,
    });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain("nope.ini");
    expect(r.stderr).not.toMatch(/internal error|\n\s+at |listening/);
    expect(existsSync(fresh)).toBe(false);
  });

  it("--dashboard that is not a directory with index.html stops serve at start (exit 2 naming it); one that is is served at /", async () => {
    const fresh = join(dir, "dashboard-refused.db");
    mkdirSync(join(dir, "dash-empty"));
    mkdirSync(join(dir, "dash-index-dir", "index.html"), { recursive: true });
    writeFileSync(join(dir, "dash-file"), "x\n");
    const cases: [string, string][] = [
      ["/nope", '--dashboard: "/nope": no such directory'],
      ["dash-file", '--dashboard: "dash-file" is not a directory'],
      ["dash-empty", '--dashboard: "dash-empty" has no index.html'],
      ["dash-index-dir", '--dashboard: "dash-index-dir" has no index.html'],
    ];
    for (const [d, message] of cases) {
      // A serve that took it would listen until stopped: stopped after 10 s, it fails below.
      const proc = startCli(["--db", fresh, "serve", "--listen", "127.0.0.1:0", "--dashboard", d], {
        cwd: dir,
      });
      const timer = setTimeout(() => proc.child.kill("SIGTERM"), 10_000);
      const r = await proc.done.finally(() => clearTimeout(timer));
      expect(r.code, `${d}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toContain(
        `overhaul: ${message} (expected the directory of a built dashboard, holding index.html (\`npm run build\` writes dashboard/dist))`,
      );
      expect(r.stderr).not.toMatch(/internal error|\n\s+at |listening/);
      expect(existsSync(fresh)).toBe(false);
    }
    mkdirSync(join(dir, "dash-ok"));
    writeFileSync(join(dir, "dash-ok", "index.html"), "<!doctype html><title>mine</title>\n");
    const server = await startServe(join(dir, "dashboard.db"), ["--dashboard", "dash-ok"], dir);
    try {
      const res = await fetch(`${server.url}/`);
      expect(res.status).toBe(200);
      expect(await res.text()).toContain("<title>mine</title>");
    } finally {
      await server.stop();
    }
  });

  it("runs through the API, scrapes clean metrics mid-run, stops gracefully on SIGTERM, resumes", async () => {
    const made = await runCli(["--db", db, "token", "create", "--role", "operator", "--name", "ops"], {
      cwd: dir,
    });
    expect(made.code).toBe(0);
    const auth = { authorization: `Bearer ${made.stdout.trim()}` };
    const json = { ...auth, "content-type": "application/json" };

    const first = await serve();
    const plan = await fetch(`${first.url}/api/plans`, {
      method: "POST",
      headers: json,
      body: JSON.stringify({ body: PLAN }),
    });
    expect(plan.status).toBe(201);
    const created = await fetch(`${first.url}/api/runs`, {
      method: "POST",
      headers: json,
      body: JSON.stringify({ plan: "serve-e2e", revision: 1, limit: "web" }),
    });
    expect(created.status).toBe(201);
    const runId = ((await created.json()) as { id: string }).id;

    const live = await openSse(`${first.url}/api/runs/${runId}/events/stream`, auth);
    const inFlight = await live.until(
      (f) => f.data.type === "attempt.started" && (f.data.data as { step: string }).step === "slow",
      15_000,
    );

    // A scrape taken while a step is in flight.
    const scrape = await fetch(`${first.url}/metrics`, { headers: auth });
    expect(scrape.status).toBe(200);
    const text = await scrape.text();
    expect(text).toMatch(
      new RegExp(
        `overhaul_run_hosts\\{run_id="${runId}",plan="serve-e2e",state="running",stage="slow"\\} [12]`,
      ),
    );
    expect(text).toMatch(/overhaul_steps_started_total\{kind="command"\} \d+/);
    expect(text).toMatch(
      new RegExp(`overhaul_run_state\\{run_id="${runId}",plan="serve-e2e",state="running"\\} 1`),
    );
    if (existsSync(PROMTOOL)) {
      writeFileSync(join(dir, "scrape.txt"), text);
      // promtool reads the exposition on stdin; exit status 0 and no output means no complaint.
      const out = execFileSync(PROMTOOL, ["check", "metrics"], { input: text, encoding: "utf8" });
      expect(out).toBe("");
    } else if (inCi) {
      throw new Error(`${PROMTOOL} is missing (apt-get install prometheus); CI=true requires it`);
    } else {
      console.warn(`skipping promtool check: ${PROMTOOL} is missing (apt-get install prometheus)`);
    }

    // SIGTERM while `slow` runs: the step finishes, leases are released, the process exits 0.
    const stopped = await first.stop();
    live.close();
    expect(stopped.code).toBe(0);
    expect(stopped.stderr).toMatch(/overhaul serve: stopped/);
    const store = await openSqliteStore(db);
    try {
      const attempts = await store.getAttempts(runId, inFlight.data.host ?? undefined);
      const slow = attempts.find((a) => a.stepName === "slow" && a.number === 1);
      expect(slow?.state).toBe("succeeded");
      expect((await store.getAttempts(runId)).filter((a) => a.state === "started")).toEqual([]);
      expect((await store.getHosts(runId)).filter((h) => h.leaseOwner !== null)).toEqual([]);
      expect((await store.getRun(runId))?.state).toBe("running");
    } finally {
      await store.close();
    }

    // Another service picks the run up where it stopped and finishes it.
    const second = await serve();
    let state = "";
    for (let i = 0; i < 150 && state !== "succeeded"; i++) {
      await new Promise((r) => setTimeout(r, 100));
      state = (
        (await (await fetch(`${second.url}/api/runs/${runId}`, { headers: auth })).json()) as {
          state: string;
        }
      ).state;
    }
    expect(state).toBe("succeeded");
    expect((await second.stop()).code).toBe(0);
  }, 60_000);
});
