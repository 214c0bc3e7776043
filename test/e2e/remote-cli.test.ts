/**
 * The CLI against `overhaul serve` (`--server URL`, OVERHAUL_TOKEN): `run`, `status`, `pause`,
 * `resume`, `retry`, `skip` print what the local commands print and exit with the same codes;
 * a viewer's token is refused (exit 6), a missing token is exit 2. Built CLI, real SQLite, local
 * hosts, HTTP on 127.0.0.1.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CliResult, runCli } from "../support/cli.js";
import { type ServeProcess, startServe } from "../support/serve-cli.js";

const dir = mkdtempSync(join(tmpdir(), "overhaul-remote-"));
const db = join(dir, "o.db");
const inventory = join(dir, "inventory.ini");
writeFileSync(inventory, "[web]\nweb0[1:3] overhaul_region=eu\n[all:vars]\nansible_connection=local\n");
writeFileSync(
  join(dir, "plan.yaml"),
  `name: remote-e2e
hosts: web
failureBudget: { maxFailed: 1 }
steps:
  - { name: upgrade, kind: command, run: 'test "$OVERHAUL_HOST" != web03', idempotent: true }
`,
);

let url = "";
let server: ServeProcess | undefined;
const tokens: Record<string, string> = {};

beforeAll(async () => {
  for (const role of ["viewer", "operator"]) {
    const r = await runCli(["--db", db, "token", "create", "--role", role, "--name", role], { cwd: dir });
    tokens[role] = r.stdout.trim();
  }
  server = await startServe(db, ["-i", inventory], dir);
  url = server.url;
}, 30_000);

afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const remote = (args: string[], role = "operator"): Promise<CliResult> =>
  runCli(["--server", url, ...args], { cwd: dir, env: { OVERHAUL_TOKEN: tokens[role] ?? "" } });
const local = (args: string[]): Promise<CliResult> => runCli(["--db", db, ...args], { cwd: dir });

describe("CLI --server", () => {
  it("run, status, retry, skip, pause, resume behave as the local commands do", async () => {
    const run = await remote(["run", "plan.yaml", "--limit", "web", "--json"]);
    expect(run.code).toBe(3);
    const summary = JSON.parse(run.stdout) as {
      outcome: string;
      run: { id: string; state: string };
      failures: { host: string }[];
    };
    expect(summary.outcome).toBe("finished");
    expect(summary.run.state).toBe("failed");
    expect(summary.failures.map((f) => f.host)).toEqual(["web03"]);
    const id = summary.run.id;

    // status: byte-identical to the local command, text and JSON.
    for (const args of [
      ["status", id, "--json"],
      ["status", id, "--hosts"],
      ["status", "--runs", "--json"],
    ]) {
      const [r, l] = [await remote(args), await local(args)];
      expect(r.stdout, args.join(" ")).toBe(l.stdout);
      expect(r.code).toBe(l.code);
    }

    // A refused action: same message, same exit code as local.
    const [rp, lp] = [await remote(["pause", id]), await local(["pause", id])];
    expect(rp.code).toBe(2);
    expect(rp.code).toBe(lp.code);
    expect(rp.stderr).toBe(lp.stderr);

    const skip = await remote(["skip", "web01", "--run", id]);
    expect(skip.code).toBe(2);
    expect(skip.stderr).toContain(`cannot skip host web01 in run ${id}: it is succeeded`);

    const retry = await remote(["retry", "web03", "--run", id]);
    expect(retry.code).toBe(0);
    expect(retry.stdout).toMatch(new RegExp(`run ${id}: host web03 -> pending`));
    // The service's coordinator drives the reopened run; web03 fails again.
    const watched = await remote(["resume", id, "--json", "-q"]);
    expect(watched.code).toBe(3);
    expect(JSON.parse(watched.stdout).failures.map((f: { host: string }) => f.host)).toEqual(["web03"]);
    const skipped = await remote(["skip", "web03", "--run", id, "--json"]);
    // Nothing left to run: the run stays failed, and says nothing holds it.
    expect(JSON.parse(skipped.stdout)).toEqual({
      run: id,
      host: "web03",
      state: "skipped",
      runState: "failed",
      reopened: false,
      held: null,
    });
  }, 60_000);

  it("run and resume refuse, before anything is sent, each flag a run through the server cannot honour", async () => {
    writeFileSync(
      join(dir, "other.ini"),
      "[web]\nweb09 overhaul_region=us\n[all:vars]\nansible_connection=local\n",
    );
    writeFileSync(
      join(dir, "flags.yaml"),
      "name: remote-flags\nhosts: web\nsteps:\n  - { name: a, kind: command, run: 'true' }\n",
    );
    const plans = async () =>
      (
        (await (
          await fetch(`${url}/api/plans`, { headers: { authorization: `Bearer ${tokens.viewer}` } })
        ).json()) as {
          name: string;
        }[]
      ).map((p) => p.name);
    const runs = async () =>
      JSON.parse((await local(["status", "--runs", "--json"])).stdout).length as number;
    const before = await runs();
    const run = ["run", "flags.yaml", "--all", "-q"];
    const cases: [string[], string[]][] = [
      [["--schedule"], ["--schedule"]],
      [
        ["--schedule", "--order", "rack"],
        ["--schedule", "--order"],
      ],
      [["-i", "other.ini"], ["--inventory"]],
      [["--inventory", "inventory.ini"], ["--inventory"]],
      [["--lease-ttl", "10s"], ["--lease-ttl"]],
      // Given with its default value: still given, still refused.
      [["--ssh-host-key-checking", "strict"], ["--ssh-host-key-checking"]],
      [
        ["--ssh-known-hosts", "kh", "--ssh-config", "cfg"],
        ["--ssh-known-hosts", "--ssh-config"],
      ],
      [
        ["--schedule", "--history", "h.csv", "--window", "2h"],
        ["--schedule", "--history", "--window"],
      ],
    ];
    for (const [flags, named] of cases) {
      const r = await remote([...run, ...flags]);
      expect(r.code, `${flags.join(" ")}: ${r.stderr}`).toBe(2);
      for (const flag of named)
        expect(r.stderr).toContain(`${flag}: is not taken through a server (--server): `);
      expect(r.stderr).toContain("(expected overhaul run without --server, on the database");
      expect(r.stdout).toBe("");
    }
    const i = await remote([...run, "-i", "other.ini"]);
    expect(i.stderr).toContain(
      "overhaul: --inventory: is not taken through a server (--server): the server scopes a run against its own inventory (expected overhaul run without --server, on the database; the server's is `overhaul serve -i INVENTORY`)",
    );
    const sched = await remote([...run, "--schedule"]);
    expect(sched.stderr).toContain(
      "overhaul: --schedule: is not taken through a server (--server): the server starts a run's hosts in inventory order, without the planner's schedule (expected overhaul run without --server, on the database)",
    );
    // The server named by OVERHAUL_SERVER: the message says so; --db given with it is refused too.
    const env = await runCli(["--db", db, ...run, "--schedule"], {
      cwd: dir,
      env: { OVERHAUL_SERVER: url, OVERHAUL_TOKEN: tokens.operator ?? "" },
    });
    expect(env.code).toBe(2);
    expect(env.stderr).toContain("--schedule: is not taken through a server (OVERHAUL_SERVER): ");
    expect(env.stderr).toContain(
      "--db: is not taken through a server (OVERHAUL_SERVER): the server's own database is used",
    );
    expect(env.stderr).toContain("(expected overhaul run with OVERHAUL_SERVER unset, on the database)");
    const resume = await remote(["resume", "--lease-ttl", "10s", "--ssh-config", "cfg"]);
    expect(resume.code).toBe(2);
    expect(resume.stderr).toContain("--lease-ttl: is not taken through a server (--server): ");
    expect(resume.stderr).toContain("--ssh-config: is not taken through a server (--server): ");
    // Nothing was sent: no plan revision stored, no run created.
    expect(await plans()).not.toContain("remote-flags");
    expect(await runs()).toBe(before);
    // The flags it does take (scope, confirmation, seed) still work.
    const ok = await remote([
      "run",
      "flags.yaml",
      "--limit",
      "web01",
      "--max-hosts",
      "5",
      "--seed",
      "7",
      "-q",
    ]);
    expect(ok.code, ok.stderr).toBe(0);
  }, 60_000);

  it("report reads the server's run: every format byte-identical to the local report, -o too", async () => {
    const runs = JSON.parse((await local(["status", "--runs", "--json"])).stdout) as { id: string }[];
    const id = runs[0]?.id as string;
    for (const format of ["text", "json", "md", "html"]) {
      const [r, l] = [
        await remote(["report", id, "--format", format]),
        await local(["report", id, "--format", format]),
      ];
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout, format).toBe(l.stdout);
      expect(r.stdout.length).toBeGreaterThan(0);
    }
    // RUN defaults to the server's newest run; a viewer may read it.
    const newest = await remote(["report", "--json"], "viewer");
    expect(newest.code, newest.stderr).toBe(0);
    expect(newest.stdout).toBe((await local(["report", id, "--json"])).stdout);
    // -o: the format follows the extension, as locally.
    const file = join(dir, "remote-report.html");
    const o = await remote(["report", id, "-o", file]);
    expect(o.code, o.stderr).toBe(0);
    expect(o.stderr).toContain(`report (html) written to ${file}`);
    expect(readFileSync(file, "utf8")).toBe((await local(["report", id, "--format", "html"])).stdout);
    // OVERHAUL_SERVER in the environment is used as --server is: no local database is read.
    const env = await runCli(["report", id, "--json"], {
      cwd: dir,
      env: { OVERHAUL_SERVER: url, OVERHAUL_TOKEN: tokens.viewer ?? "", OVERHAUL_DB: join(dir, "none.db") },
    });
    expect(env.code, env.stderr).toBe(0);
    expect(env.stdout).toBe(newest.stdout);
    const unknown = await remote(["report", "r-nope"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/no run "r-nope"/);
  });

  it("refuses a viewer (exit 6) and a missing token (exit 2), and names an unknown run", async () => {
    const viewer = await remote(["pause"], "viewer");
    expect(viewer.code).toBe(6);
    expect(viewer.stderr).toMatch(/needs the operator role; token "viewer" is viewer/);
    const none = await remote(["status"], "nobody");
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/OVERHAUL_TOKEN: is not set/);
    const unknown = await remote(["status", "r-nope"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/no run "r-nope"/);
    const gone = await runCli(["--server", "http://127.0.0.1:1", "status"], {
      cwd: dir,
      env: { OVERHAUL_TOKEN: "x" },
    });
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/cannot reach the server/);
  });

  it("refuses to send the token in clear text to a server that is not on this machine", async () => {
    for (const url of [
      "http://192.0.2.1:8443",
      "http://198.51.100.7",
      "http://[2001:db8::1]:80",
      // Not `localhost` itself: a resolver may send it to DNS.
      "http://evil.localhost:8080",
    ]) {
      const r = await runCli(["--server", url, "status"], { cwd: dir, env: { OVERHAUL_TOKEN: "x" } });
      expect(r.code, url).toBe(2);
      expect(r.stderr).toMatch(/--server: .* would send the token in clear text over the network/);
    }
    const env = await runCli(["status"], {
      cwd: dir,
      env: { OVERHAUL_TOKEN: "x", OVERHAUL_SERVER: "http://192.0.2.7:8443" },
    });
    expect(env.code).toBe(2);
    expect(env.stderr).toMatch(/OVERHAUL_SERVER: /);
    // Loopback over http stays allowed (the server's own default), as does https anywhere.
    for (const url of ["http://localhost:1", "http://127.0.0.1:1", "http://[::ffff:127.0.0.1]:1"]) {
      const local = await runCli(["--server", url, "status"], { cwd: dir, env: { OVERHAUL_TOKEN: "x" } });
      expect(local.code, url).toBe(1);
    }
  });
});
