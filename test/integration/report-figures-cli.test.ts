/**
 * `overhaul report` through the built CLI on a real (local-transport) run that is stopped with
 * hosts still waiting: the canary h1 works for a moment, then a long stagger keeps h2..h4 pending
 * until an operator aborts the run.
 * - While it runs, the report gives no makespan (hosts are unfinished) but the time so far,
 *   labelled, as JSON `makespanSoFarMs`; the HTML counts the unfinished hosts, as the text does.
 * - Aborted, its makespans and wave spans are those of the host that worked: the abort, seconds
 *   later, is not a finish of hosts that never started (they are listed as failures at the
 *   abort's time).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, startCli } from "../support/cli.js";

const INVENTORY =
  "[web]\nh1\nh2\nh3\nh4\n[web:vars]\noverhaul_region=r1\n[all:vars]\nansible_connection=local\n";

/** h1 alone, then h2..h4, at most one host start a minute: they wait. */
const PLAN = `name: waiting
hosts: web
waves:
  - { name: canary, count: 1 }
  - { percent: 100 }
stagger: { interval: 60s }
steps:
  - { name: work, kind: command, run: "true", idempotent: true }
`;

/** How long the run is left with its hosts waiting before the abort. */
const WAIT_MS = 1_500;

let dir: string;
const cli = (args: string[]) => runCli(args, { cwd: dir, env: { OVERHAUL_LOG_DIR: join(dir, "logs") } });

async function until(pred: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await pred()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("condition not met in time");
}

interface Json {
  run: { state: string };
  totals: {
    makespanMs: number | null;
    makespanSoFarMs: number | null;
    unfinished: number;
    aborted: number;
    end: string | null;
  };
  regions: { makespanMs: number | null; makespanSoFarMs: number | null }[];
  waves: { wave: number; startMs: number | null; endMs: number | null }[];
  failures: { host: string; at: string | null }[];
  timeline: { origin: string; endMs: number };
}

let running: Json;
let runningText = "";
let runningHtml = "";
let aborted: Json;
let abortedText = "";

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "overhaul-report-figures-"));
  writeFileSync(join(dir, "inv.ini"), INVENTORY);
  writeFileSync(join(dir, "plan.yaml"), PLAN);
  const run = startCli(["run", "plan.yaml", "-i", "inv.ini", "--all", "-q"], {
    cwd: dir,
    env: { OVERHAUL_LOG_DIR: join(dir, "logs") },
  });
  await until(async () => {
    const r = await cli(["report", "--json"]);
    return r.code === 0 && (JSON.parse(r.stdout) as Json).totals.unfinished === 3;
  });
  const [json0, text0, html0] = await Promise.all([
    cli(["report", "--json"]),
    cli(["report"]),
    cli(["report", "--format", "html"]),
  ]);
  running = JSON.parse(json0.stdout) as Json;
  runningText = text0.stdout;
  runningHtml = html0.stdout;
  await new Promise((r) => setTimeout(r, WAIT_MS));
  const abort = await cli(["abort"]);
  expect(abort.code, abort.stderr).toBe(0);
  expect((await run.done).code).toBe(3);
  const [json, text] = await Promise.all([cli(["report", "--json"]), cli(["report"])]);
  expect(json.code, json.stderr).toBe(0);
  aborted = JSON.parse(json.stdout) as Json;
  abortedText = text.stdout;
}, 90_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("a run with hosts still to do", () => {
  it("has no makespan yet: the time so far, to the last recorded event, labelled as such", () => {
    expect(running.run.state).toBe("running");
    expect(running.totals).toMatchObject({ makespanMs: null, unfinished: 3 });
    expect(running.totals.makespanSoFarMs).toBeGreaterThanOrEqual(0);
    expect(running.totals.makespanSoFarMs).toBe(running.timeline.endMs);
    expect(running.regions[0]).toMatchObject({
      makespanMs: null,
      makespanSoFarMs: running.totals.makespanSoFarMs,
    });
    expect(runningText).toMatch(
      /\n {2}makespan - {2}\(unfinished: \S+ so far, from the first host start \S+ \S+ to the last recorded event\)\n/,
    );
    expect(runningText).toMatch(/\nr1 +4 +1 +0 +0 +0 +0 +3 +0 +0 +- \(\S+ so far\)\n/);
  });

  it("the HTML counts the unfinished hosts as the text does: a card, and the region's header", () => {
    expect(runningHtml).toContain("<b>3</b><span>unfinished</span>");
    expect(runningHtml).toMatch(
      />r1 — 4 hosts: 1 done, 0 failed, 3 unfinished, makespan - \(\S+ so far\)<\/text>/,
    );
  });
});

describe("a run aborted while hosts waited to start", () => {
  it("its makespan ends at the last host that worked, not at the abort", () => {
    expect(aborted.run.state).toBe("aborted");
    expect(aborted.totals).toMatchObject({ aborted: 3, unfinished: 0 });
    const makespan = aborted.totals.makespanMs as number;
    expect(makespan).not.toBeNull();
    expect(makespan).toBeLessThan(WAIT_MS);
    expect(aborted.regions[0]?.makespanMs).toBe(makespan);
    // The abort itself is on the timeline, and where the failures list it.
    expect(aborted.timeline.endMs).toBeGreaterThanOrEqual(WAIT_MS);
    expect(aborted.failures.map((f) => f.host)).toEqual(["h2", "h3", "h4"]);
    for (const f of aborted.failures)
      expect(Date.parse(f.at as string) - Date.parse(aborted.timeline.origin)).toBeGreaterThanOrEqual(
        WAIT_MS,
      );
  });

  it("the wave whose hosts never started has no finish", () => {
    expect(aborted.waves[0]).toMatchObject({ wave: 1, startMs: 0, endMs: aborted.totals.makespanMs });
    expect(aborted.waves[1]?.endMs).toBeNull();
    expect(abortedText).toMatch(/\n2 +3 +\S+ +-\n/);
  });
});
