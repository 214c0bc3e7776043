/**
 * The built CLI on local hosts, as an on-call engineer uses it after something went wrong: a run
 * halted by its failure budget, runs that share hosts, a run nobody drives, `resume` of a run that
 * cannot go on.
 */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, startCli } from "../support/cli.js";

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "overhaul-lifecycle-"));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const INVENTORY =
  "[web]\nh1\nh2\nh3\nh4\n[web:vars]\noverhaul_region=r1\n[all:vars]\nansible_connection=local\n";

/** A directory with the inventory and `files` (plan name -> text); the CLI runs there. */
function sandbox(name: string, files: Record<string, string>): { dir: string; cli: typeof runCli } {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "inv.ini"), INVENTORY);
  for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, f), text);
  const env = { OVERHAUL_LOG_DIR: join(dir, "logs") };
  return { dir, cli: (args, o = {}) => runCli(args, { cwd: dir, env, ...o }) };
}

const OK = `name: ok
hosts: web
concurrency: { global: 2 }
steps:
  - { name: hello, kind: command, run: "echo hi", idempotent: true }
`;

/** Canary h1, then a manual gate: the run pauses until \`overhaul resume\`. */
const GATE = `name: gate
hosts: web
waves:
  - { name: canary, count: 1 }
  - { percent: 100 }
concurrency: { global: 2 }
steps:
  - { name: work, kind: command, run: "true", idempotent: true }
  - { name: canary-ok, kind: gate, approval: true }
`;

async function until(pred: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await pred()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("condition not met in time");
}

const runIdOf = (text: string) => /run (r-[\w-]+)/.exec(text)?.[1] as string;

/** One host at a time, no failure budget: h2 fails its second step. */
const FAIL_ONE = (ledger: string) => `name: failone
hosts: web
concurrency: { global: 1 }
steps:
  - { name: mark, kind: command, run: "echo $OVERHAUL_HOST >> ${ledger}", idempotent: true }
  - { name: maybe, kind: command, run: "test $OVERHAUL_HOST != h2", idempotent: true }
`;

describe("a run halted by its failure budget", () => {
  it("skipping the failed host lets `resume` run the hosts it never started", async () => {
    const { dir, cli } = sandbox("skip-resume", {});
    const ledger = join(dir, "ledger");
    writeFileSync(join(dir, "failone.yaml"), FAIL_ONE(ledger));
    const run = await cli(["run", "failone.yaml", "-i", "inv.ini", "--all", "-q"]);
    expect(run.code, run.stderr).toBe(3);
    expect(run.stdout).toContain("failure budget exceeded: 1 of 4 hosts failed or in doubt");
    const id = /run (r-\S+)/.exec(run.stdout)?.[1] as string;
    expect(run.stdout).toContain(
      `next: \`overhaul retry HOST --run ${id}\` or \`overhaul skip HOST --run ${id}\` for 1 more of the failed or in-doubt hosts`,
    );

    const skip = await cli(["skip", "h2"]);
    expect(skip.code, skip.stderr).toBe(0);
    expect(skip.stdout).toContain(`run ${id}: host h2 -> skipped`);
    expect(skip.stdout).toContain(`run ${id} goes on: continue it with \`overhaul resume ${id}\``);

    const resumed = await cli(["resume", id, "-q"]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toContain("SUCCEEDED");
    const s = JSON.parse((await cli(["status", id, "--json"])).stdout);
    expect(s.counts).toMatchObject({ succeeded: 3, skipped: 1, pending: 0 });
    expect(readFileSync(ledger, "utf8").trim().split("\n")).toEqual(["h1", "h2", "h3", "h4"]);
  }, 60_000);
});

describe("resume of a run that cannot go on", () => {
  it("--detach refuses it (exit 2), saying what would let it go on; --json gives run and state", async () => {
    const { dir, cli } = sandbox("resume-refused", { "ok.yaml": OK, "gate.yaml": GATE });
    writeFileSync(join(dir, "failone.yaml"), FAIL_ONE(join(dir, "ledger")));

    const failed = runIdOf((await cli(["run", "failone.yaml", "-i", "inv.ini", "--all", "-q"])).stdout);
    for (const args of [
      ["resume", failed, "--detach"],
      ["resume", failed, "--detach", "--json"],
    ]) {
      const r = await cli(args);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr).toContain(
        `cannot resume run ${failed}: it is failed; the failure budget is still exceeded`,
      );
      expect(r.stderr).toContain(`\`overhaul skip HOST --run ${failed}\``);
    }

    const ok = await cli(["run", "ok.yaml", "-i", "inv.ini", "--all", "-q"]);
    expect(ok.code, ok.stderr).toBe(0);
    const succeeded = runIdOf(ok.stdout);
    const refused = await cli(["resume", succeeded, "--detach"]);
    expect(refused.code, refused.stderr).toBe(2);
    expect(refused.stderr).toContain(`cannot resume run ${succeeded}: it is succeeded`);
    // Without --detach, resume only shows a finished run (and exits as it ended).
    const shown = await cli(["resume", succeeded, "-q"]);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain("SUCCEEDED");

    // Paused at its gate, driven by another process: --detach --json approves and says so.
    const gated = startCli(["run", "gate.yaml", "-i", "inv.ini", "--all", "-q"], {
      cwd: dir,
      env: { OVERHAUL_LOG_DIR: join(dir, "logs") },
    });
    let gateRun = "";
    await until(async () => {
      const s = await cli(["status", "--json"]);
      if (s.code !== 0) return false;
      const j = JSON.parse(s.stdout);
      gateRun = j.run.id;
      return j.run.plan === "gate" && j.run.state === "paused";
    });
    const detach = await cli(["resume", gateRun, "--detach", "--json"]);
    expect(detach.code, detach.stderr).toBe(0);
    expect(JSON.parse(detach.stdout)).toEqual({ run: gateRun, state: "running" });
    expect((await gated.done).code).toBe(0);

    // Aborted: never driven again.
    const gated2 = startCli(["run", "gate.yaml", "-i", "inv.ini", "--all", "-q"], {
      cwd: dir,
      env: { OVERHAUL_LOG_DIR: join(dir, "logs") },
    });
    let aborted = "";
    await until(async () => {
      const s = await cli(["status", "--json"]);
      const j = JSON.parse(s.stdout);
      aborted = j.run.id;
      return aborted !== gateRun && j.run.state === "paused";
    });
    expect((await cli(["abort", aborted])).code).toBe(0);
    expect((await gated2.done).code).toBe(3);
    const r = await cli(["resume", aborted, "--detach"]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(
      `cannot resume run ${aborted}: it is aborted; an aborted run is never driven again`,
    );
  }, 90_000);
});

describe("host actions when runs share hosts", () => {
  it("advice names the run; without --run the run that has the host is used, and two unfinished ones are refused", async () => {
    const { dir, cli } = sandbox("shared-hosts", { "ok.yaml": OK, "gate.yaml": GATE });
    writeFileSync(join(dir, "failone.yaml"), FAIL_ONE(join(dir, "ledger")));
    const a = runIdOf((await cli(["run", "failone.yaml", "-i", "inv.ini", "--all", "-q"])).stdout);
    const b = await cli(["run", "ok.yaml", "-i", "inv.ini", "--limit", "h1", "-q"]);
    expect(b.code, b.stderr).toBe(0);
    // C waits at its gate (h1 there, h2 pending), driven by another process.
    const c = startCli(["run", "gate.yaml", "-i", "inv.ini", "--all", "-q"], {
      cwd: dir,
      env: { OVERHAUL_LOG_DIR: join(dir, "logs") },
    });
    let cId = "";
    await until(async () => {
      const j = JSON.parse((await cli(["status", "--json"])).stdout);
      cId = j.run.id;
      return j.run.plan === "gate" && j.run.state === "paused";
    });
    try {
      const status = await cli(["status", a]);
      expect(status.stdout).toContain(`\`overhaul skip HOST --run ${a}\``);

      const skip = await cli(["skip", "h2"]);
      expect(skip.code).toBe(2);
      expect(skip.stderr).toContain(
        `host h2 is unfinished in 2 runs: ${cId} (paused; h2 pending), ${a} (failed; h2 failed)`,
      );
      expect(skip.stderr).toContain("--run");
      expect(JSON.parse((await cli(["status", cId, "--json"])).stdout).counts.skipped).toBe(0);

      const skipA = await cli(["skip", "h2", "--run", a]);
      expect(skipA.code, skipA.stderr).toBe(0);
      expect(skipA.stdout).toContain(`run ${a}: host h2 -> skipped`);

      // Now h2 is unfinished in C only: that is the run, and the refusal names it.
      const retry = await cli(["retry", "h2"]);
      expect(retry.code).toBe(2);
      expect(retry.stderr).toContain(`cannot retry host h2 in run ${cId}: it is pending`);
      // h3 is pending in C and in A (which goes on again): refused too.
      expect((await cli(["skip", "h3"])).code).toBe(2);
    } finally {
      await cli(["abort", cId]);
      await c.done;
    }
  }, 90_000);
});

describe("a run left with no coordinator", () => {
  const SLOW = (marks: string) => `name: slow
hosts: web
concurrency: { global: 1 }
steps:
  - { name: nap, kind: command, run: "touch ${marks}/$OVERHAUL_HOST; sleep 1", idempotent: true }
`;

  it("Ctrl-C'd: status says nobody holds it and how long it has been; abort finishes it at once", async () => {
    const { dir, cli } = sandbox("unheld", {});
    const marks = join(dir, "marks");
    mkdirSync(marks);
    writeFileSync(join(dir, "slow.yaml"), SLOW(marks));
    const p = startCli(["run", "slow.yaml", "-i", "inv.ini", "--all", "-q"], {
      cwd: dir,
      env: { OVERHAUL_LOG_DIR: join(dir, "logs") },
    });
    await until(async () => readdirSync(marks).length > 0);
    p.child.kill("SIGINT");
    expect((await p.done).code).toBe(130);
    await new Promise((r) => setTimeout(r, 1_100));

    const status = await cli(["status"]);
    expect(status.stdout).toMatch(/RUNNING/);
    expect(status.stdout).toMatch(/\d+(\.\d+)?s since start/);
    const id = runIdOf(status.stdout);
    expect(status.stdout).toContain(
      `no coordinator holds this run: nothing runs; \`overhaul resume ${id}\` carries it on`,
    );
    const json = JSON.parse((await cli(["status", "--json"])).stdout);
    expect(json.coordinators).toEqual([]);
    expect(json.elapsedMs).toBeGreaterThanOrEqual(1_000);

    const abort = await cli(["abort", id]);
    expect(abort.code, abort.stderr).toBe(0);
    expect(abort.stdout).toContain(`run ${id}: running -> aborted`);
    expect(abort.stdout).toContain(`no coordinator held run ${id}: the abort is finished here`);
    const after = JSON.parse((await cli(["status", id, "--json"])).stdout);
    expect(after.run.state).toBe("aborted");
    expect(after.counts.in_doubt).toBe(0);
    expect(after.counts.aborted + after.counts.succeeded).toBe(4);
  }, 60_000);
});

describe("pointing at the wrong database or run", () => {
  it("a read or control command on a database that does not exist says so and creates nothing", async () => {
    const { dir, cli } = sandbox("no-database", {});
    const db = join(dir, "nonexist/dir/n.db");
    for (const args of [
      ["status"],
      ["status", "--runs"],
      ["report"],
      ["pause"],
      ["abort"],
      ["resume", "--detach"],
      ["retry", "h1"],
      ["skip", "h1", "--run", "r-x"],
    ]) {
      const r = await cli(["--db", db, ...args]);
      expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toContain(`--db: no database at ${db}`);
    }
    const env = await cli(["status"], { env: { OVERHAUL_DB: db, OVERHAUL_LOG_DIR: join(dir, "logs") } });
    expect(env.code).toBe(2);
    expect(env.stderr).toContain(`OVERHAUL_DB: no database at ${db}`);
    expect(existsSync(join(dir, "nonexist"))).toBe(false);
    expect(existsSync(join(dir, ".overhaul"))).toBe(false);
  }, 60_000);

  it("an unknown run points at the list of runs", async () => {
    const { cli } = sandbox("unknown-run", { "ok.yaml": OK });
    expect((await cli(["run", "ok.yaml", "-i", "inv.ini", "--limit", "h1", "-q"])).code).toBe(0);
    const r = await cli(["status", "r-nope"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      'no run "r-nope" in this database (see `overhaul status --runs` for the runs)',
    );
  }, 30_000);
});
