/**
 * The built CLI on local hosts, as an on-call engineer uses it after something went wrong: a run
 * halted by its failure budget, runs that share hosts, a run nobody drives, `resume` of a run that
 * cannot go on.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../support/cli.js";

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
