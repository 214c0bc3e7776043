/**
 * `overhaul simulate` through the built CLI, as a user runs it: the same inputs give the same
 * bytes (in memory and on the default store), a different seed gives different ones, `--report`
 * writes the four reports, a real inventory without hold-overs is simulated honestly, bad input is
 * refused with where it is wrong (exit 2), and a stored simulation is never driven for real (exit 4).
 */
import {
  cpSync,
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
import { ROOT, runCli } from "../support/cli.js";

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "overhaul-simulate-"));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A fresh cwd with a copy of examples/ (demo and quickstart). */
function sandbox(name: string): string {
  const dir = join(work, name);
  cpSync(join(ROOT, "examples"), join(dir, "examples"), { recursive: true });
  return dir;
}

/** 3 regions x 4 hosts (one hold-over each): r02-h003 and r03-h002 are workers, as the scenario wants. */
const FLEET = "regions=3,hosts=4,holdovers=0.25,workloads=2,seed=7";
const DEMO = [
  "simulate",
  "examples/demo/plan.yaml",
  "--fleet",
  FLEET,
  "--scenario",
  "examples/demo/scenario.yaml",
];

describe("overhaul simulate: determinism and reports", () => {
  it("the same simulation twice gives the same bytes; another seed does not", async () => {
    const dir = sandbox("determinism");
    const [a, b, c] = await Promise.all([
      runCli([...DEMO, "--json", "--db", ":memory:"], { cwd: dir }),
      runCli([...DEMO, "--json", "--db", ":memory:"], { cwd: dir }),
      runCli([...DEMO, "--json", "--db", ":memory:", "--seed", "8"], { cwd: dir }),
    ]);
    // The scenario's failures happen, so the run fails (exit 3) with every invariant holding.
    expect(a.code, a.stderr).toBe(3);
    expect(b.code, b.stderr).toBe(3);
    expect(a.stdout.length).toBeGreaterThan(1_000);
    expect(b.stdout).toBe(a.stdout);
    const out = JSON.parse(a.stdout);
    expect(out.invariants).toMatchObject({ ok: true, violations: [] });
    // Every injected failure can happen here: no warning.
    expect(out.warnings).toEqual([]);
    expect(out.simulation).toMatchObject({
      seed: 7,
      hosts: 9,
      workloads: 18,
      coordinators: 1,
      unfinished: null,
    });
    expect(out.report.failures.map((f: { host: string }) => f.host)).toContain("r02-h003");
    // --seed 8: another run id, other boot times and latencies.
    expect([0, 3]).toContain(c.code);
    expect(c.stdout).not.toBe(a.stdout);
    const other = JSON.parse(c.stdout);
    expect(other.simulation.seed).toBe(8);
    expect(other.report.run.id).not.toBe(out.report.run.id);
    expect(other.report.totals.makespanMs).not.toBe(out.report.totals.makespanMs);
    // Nothing was stored anywhere with --db :memory:.
    expect(existsSync(join(dir, ".overhaul"))).toBe(false);
  });

  it("on the default store the same simulation replaces its database and prints the same bytes; --report writes all four", async () => {
    const dir = sandbox("default-store");
    const first = await runCli([...DEMO, "--json"], { cwd: dir });
    expect(first.code, first.stderr).toBe(3);
    const id = JSON.parse(first.stdout).report.run.id as string;
    expect(id).toMatch(/^sim-[0-9a-f]{12}$/);
    const db = join(dir, ".overhaul/simulations", `${id}.db`);
    expect(existsSync(db)).toBe(true);

    const second = await runCli([...DEMO, "--json", "--report", "out"], { cwd: dir });
    expect(second.code, second.stderr).toBe(3);
    expect(second.stdout).toBe(first.stdout);
    expect(readdirSync(join(dir, ".overhaul/simulations")).filter((f) => f.endsWith(".db"))).toEqual([
      `${id}.db`,
    ]);

    // The reports: the JSON is the same document as --json, the others render the same run.
    expect(readdirSync(join(dir, "out")).sort()).toEqual([
      "report.html",
      "report.json",
      "report.md",
      "report.txt",
    ]);
    expect(readFileSync(join(dir, "out/report.json"), "utf8")).toBe(first.stdout);
    for (const f of ["report.html", "report.md", "report.txt"]) {
      const text = readFileSync(join(dir, "out", f), "utf8");
      expect(text, f).toContain(id);
      expect(text, f).toContain("r02-h003");
    }
    expect(readFileSync(join(dir, "out/report.html"), "utf8")).toContain('<svg id="timeline"');

    // The stored simulation reads back as the same run.
    const rep = await runCli(["--db", db, "report", "--format", "json"], { cwd: dir });
    expect(rep.code, rep.stderr).toBe(0);
    const stored = JSON.parse(rep.stdout);
    expect(stored.run.id).toBe(id);
    expect(stored.totals).toEqual(JSON.parse(first.stdout).report.totals);
  });

  it("a real inventory with no hold-overs: drains find no room, hosts are rolled back and reported, invariants hold", async () => {
    const dir = sandbox("inventory");
    writeFileSync(
      join(dir, "plan.yaml"),
      `name: qs-drain
hosts: web
concurrency: { global: 2 }
failureBudget: { maxFailedPercent: 100 }
steps:
  - { name: drain, kind: drain }
  - { name: reboot, kind: reboot, timeout: 10m }
  - { name: healthy, kind: wait-healthy, timeout: 5m }
  - { name: reinstate, kind: reinstate }
`,
    );
    writeFileSync(join(dir, "scenario.yaml"), "seed: 1\nboot: { min: 2m, max: 5m }\n");
    const args = ["plan.yaml", "-i", "examples/quickstart/inventory.ini", "--workloads", "3"];
    const r = await runCli(
      ["simulate", ...args, "--scenario", "scenario.yaml", "--json", "--db", ":memory:"],
      {
        cwd: dir,
      },
    );
    expect(r.code, r.stderr).toBe(3);
    const out = JSON.parse(r.stdout);
    expect(out.simulation).toMatchObject({
      hosts: 8,
      workloads: 24,
      fleet: { inventory: "examples/quickstart/inventory.ini" },
    });
    expect(out.invariants).toMatchObject({ ok: true, violations: [] });
    // Capacity was checked on every placement (the inventory declares none: the default applies).
    expect(out.invariants.checked["over-capacity"]).toBeGreaterThan(24);
    expect(out.invariants.checked["workload-lost"]).toBe(24);
    const { totals, failures } = out.report;
    expect(totals.hosts).toBe(8);
    expect(totals.failed).toBeGreaterThan(0);
    expect(totals.done).toBeGreaterThan(0);
    expect(totals.done + totals.failed).toBe(8);
    expect(totals.rollbacks).toBe(totals.failed);
    // Every failure is a drain that found no room among the other workers of its region.
    for (const f of failures) {
      expect(f.step, f.host).toBe("drain");
      expect(f.reason, f.host).toMatch(
        /^step "drain" failed after 3 attempt\(s\): (attempt 1: drain of \S+ incomplete: .*no room in region (eu-west|us-east).*; attempt 3: )?drain of \S+ incomplete: .*no room in region (eu-west|us-east).*\(rolled back\)$/,
      );
    }
    // The hosts that did get drained moved their workloads for real.
    expect(out.report.workloadDowntime.samples).toBeGreaterThan(0);
  });
});

describe("overhaul simulate --report DIR: checked before simulating, written as one set", () => {
  const SMALL = [
    "simulate",
    "examples/demo/plan.yaml",
    "--fleet",
    "regions=1,hosts=3,holdovers=0.34,workloads=1",
    "--json",
  ];

  it("a regular file as DIR: exit 2 at once, naming --report and the file; nothing simulated or stored", async () => {
    const dir = sandbox("report-file");
    writeFileSync(join(dir, "afile"), "mine\n");
    const r = await runCli([...SMALL, "--report", "afile"], { cwd: dir });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe(
      "overhaul: afile: --report: is a file, not a directory (expected a directory that can be written, where each report file is a regular file or absent)\n",
    );
    expect(readFileSync(join(dir, "afile"), "utf8")).toBe("mine\n");
    expect(existsSync(join(dir, ".overhaul/simulations"))).toBe(false);
  });

  it("a report name taken by a directory: exit 2 at once, and the older reports there stay as they were (no mixed set)", async () => {
    const dir = sandbox("report-mixed");
    mkdirSync(join(dir, "out3/report.html"), { recursive: true });
    writeFileSync(join(dir, "out3/report.txt"), "an older run\n");
    writeFileSync(join(dir, "out3/report.json"), "{}\n");
    const r = await runCli([...SMALL, "--report", "out3"], { cwd: dir });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("out3/report.html: --report: is a directory, so it cannot be replaced");
    expect(readdirSync(join(dir, "out3")).sort()).toEqual(["report.html", "report.json", "report.txt"]);
    expect(readFileSync(join(dir, "out3/report.txt"), "utf8")).toBe("an older run\n");
    expect(readFileSync(join(dir, "out3/report.json"), "utf8")).toBe("{}\n");
    expect(existsSync(join(dir, ".overhaul/simulations"))).toBe(false);
  });

  it("a --db refused after DIR was created: the directories it created are removed again", async () => {
    const dir = sandbox("report-undo");
    const r = await runCli([...SMALL, "--report", "new/reports", "--db", "postgres://x@localhost/db"], {
      cwd: dir,
    });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain("--db: simulations run on SQLite or in memory");
    expect(existsSync(join(dir, "new"))).toBe(false);
  });
});

describe("overhaul report -o FILE", () => {
  it("a directory is refused before the database is read; a file is replaced as a whole", async () => {
    const dir = sandbox("report-o");
    mkdirSync(join(dir, "adir"));
    const refused = await runCli(["--db", "none.db", "report", "-o", "adir"], { cwd: dir });
    expect(refused.code, refused.stderr).toBe(2);
    expect(refused.stderr).toContain("adir: -o: is a directory");
    // Refused before the store was opened: no database file was created.
    expect(existsSync(join(dir, "none.db"))).toBe(false);

    const sim = await runCli([...DEMO, "--db", "sims.db", "--json"], { cwd: dir });
    expect(sim.code, sim.stderr).toBe(3);
    writeFileSync(join(dir, "r.md"), "old\n");
    const md = await runCli(["--db", "sims.db", "report", "-o", "r.md"], { cwd: dir });
    expect(md.code, md.stderr).toBe(0);
    expect(readFileSync(join(dir, "r.md"), "utf8")).toContain("r02-h003");
    expect(readdirSync(dir).filter((f) => f.startsWith(".r.md"))).toEqual([]);
  });
});

describe("overhaul simulate: injected failures that can never happen are warned about, not ignored", () => {
  it("a target outside the run's scope and a kill past the time limit: a warning each, on stderr and in --json; the run goes on", async () => {
    const dir = sandbox("unreachable");
    writeFileSync(
      join(dir, "s3.yaml"),
      [
        "failures:",
        "  - { kind: never-returns, host: r02-h003 }",
        "  - { kind: unhealthy, host: r01-h005 }",
        "  - { kind: coordinator-kill, at: 100d }",
        "",
      ].join("\n"),
    );
    const args = [
      "simulate",
      "examples/demo/plan.yaml",
      "--fleet",
      "regions=2,hosts=5,holdovers=0.2,workloads=2",
      "--scenario",
      "s3.yaml",
      "--limit",
      "r01",
      "--db",
      ":memory:",
    ];
    const [json, text] = await Promise.all([
      runCli([...args, "--json"], { cwd: dir }),
      runCli(args, { cwd: dir }),
    ]);
    const lines = [
      's3.yaml:2:34: failures[0].host: never-returns on host "r02-h003" can never happen: the host is not in this run\'s scope',
      's3.yaml:3:30: failures[1].host: unhealthy on host "r01-h005" can never happen: the host is not in this run\'s scope',
      "s3.yaml:4:35: failures[2].at: coordinator-kill at 100d can never happen: the simulation stops at 7d",
    ];
    for (const r of [json, text]) {
      expect(r.code, r.stderr).toBe(0);
      for (const l of lines) expect(r.stderr).toContain(`warning: ${l}`);
    }
    expect(text.stderr).toContain("3 injected failure(s) (3 can never happen here, see below)");
    // The opening and closing lines count the same workloads, and say which.
    expect(text.stderr).toContain("on 4 host(s) holding 8 of the fleet's 16 workloads, seed 1");
    expect(text.stderr).toContain("simulated 4 host(s) holding 8 of the fleet's 16 workloads in ");
    const out = JSON.parse(json.stdout);
    expect(out.simulation.coordinators).toBe(1);
    expect(
      out.warnings.map(
        (w: { file: string; line: number; column: number; path: string; message: string }) =>
          `${w.file}:${w.line}:${w.column}: ${w.path}: ${w.message}`,
      ),
    ).toEqual(lines);
  });
});

describe("overhaul simulate: bad input is refused with where it is wrong (exit 2)", () => {
  let dir: string;
  beforeAll(() => {
    dir = sandbox("bad-input");
    writeFileSync(
      join(dir, "bad-scenario.yaml"),
      [
        "seed: 1",
        "failures:",
        "  - { kind: never-returns, host: r01-h001 }",
        "  - { kind: meteor, host: r01-h002 }",
        "  - { kind: unhealthy }",
        "",
      ].join("\n"),
    );
    writeFileSync(
      join(dir, "targets.yaml"),
      "failures:\n  - { kind: never-returns, host: r01-h001 }\n  - { kind: unhealthy, rack: r09-k01 }\n",
    );
    writeFileSync(
      join(dir, "nowhere.yaml"),
      'name: nowhere\nhosts: workers:r09\nsteps:\n  - { name: a, kind: command, run: "true" }\n',
    );
  });

  const cases: [string, string[], RegExp[]][] = [
    [
      "a --fleet spec with an unknown key and a bad number",
      ["--fleet", "regions=2,bogus=1,hosts=x,workloads=-1"],
      [
        /--fleet bogus: unknown fleet key "bogus" \(expected regions, hosts, holdovers, racks, workloads, seed, vms\)/,
        /--fleet hosts: "x" is not a number/,
        /--fleet workloads: must be a whole number >= 0, got -1/,
      ],
    ],
    [
      "--seed above 32 bits (the simulation would be that of a smaller seed)",
      ["--fleet", "regions=1", "--seed", "4294967297"],
      [/--seed must be a whole number 0\.\.4294967295 \(seeds are 32-bit\), got "4294967297"/],
    ],
    [
      "a scenario with an unknown kind and a failure without a target",
      ["--fleet", "regions=1", "--scenario", "bad-scenario.yaml"],
      [
        /bad-scenario\.yaml:4:\d+: failures\[1\]\.kind: unknown kind "meteor" \(expected one of never-returns, .*coordinator-kill\)/,
        /bad-scenario\.yaml:5:\d+: failures\[2\]: must name exactly one of host, rack or power/,
      ],
    ],
    [
      "a scenario target that is not in the fleet, at its line and column",
      ["--fleet", "regions=1", "--scenario", "targets.yaml"],
      [
        /targets\.yaml:3:30: failures\[1\]\.rack: no rack "r09-k01" in the simulated fleet \(expected one of r01-k01, r01-k02\)/,
      ],
    ],
    [
      "both -i and --fleet",
      ["--fleet", "regions=1", "-i", "examples/quickstart/inventory.ini"],
      [/--fleet: give either -i or --fleet, not both/],
    ],
    ["neither -i nor --fleet", [], [/-i \/ --fleet: name the fleet to simulate/]],
    [
      "--workloads above 64 (per worker host) with a generated fleet",
      ["--fleet", "regions=1,hosts=5,holdovers=0.2", "--workloads", "65"],
      [/--workloads: must be at most 64 per worker host, got 65 \(expected a whole number 0\.\.64\)/],
    ],
    [
      "--workloads above 64 with a real inventory",
      ["-i", "examples/quickstart/inventory.ini", "--workloads", "1000000"],
      [/--workloads: must be at most 64 per worker host, got 1000000/],
    ],
    [
      "a plan whose hosts pattern matches nothing in the fleet",
      ["--fleet", "regions=2"],
      [/nowhere\.yaml:2:8: hosts: pattern part\(s\) "r09" match no host or group of the simulated fleet/],
    ],
  ];

  for (const [what, args, messages] of cases) {
    it(what, async () => {
      const plan = what.startsWith("a plan") ? "nowhere.yaml" : "examples/demo/plan.yaml";
      const r = await runCli(["simulate", plan, ...args, "--json"], { cwd: dir });
      expect(r.code, r.stderr).toBe(2);
      expect(r.stdout).toBe("");
      for (const m of messages) expect(r.stderr).toMatch(m);
      expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
      // Refused before anything was simulated or stored.
      expect(existsSync(join(dir, ".overhaul/simulations"))).toBe(false);
    });
  }
});

describe("simulated plans and runs stay simulated", () => {
  it("simulate --db refuses a database that holds a real run, before writing anything (exit 2)", async () => {
    const dir = sandbox("real-db");
    writeFileSync(
      join(dir, "noop.yaml"),
      'name: noop\nhosts: web\nsteps:\n  - { name: t, kind: command, run: "true", idempotent: true }\n',
    );
    writeFileSync(join(dir, "local.ini"), "[web]\nlocalhost ansible_connection=local\n");
    const real = await runCli(["--db", "real.db", "run", "noop.yaml", "-i", "local.ini", "--all", "--json"], {
      cwd: dir,
    });
    expect(real.code, real.stderr).toBe(0);
    const runId = JSON.parse(real.stdout).run.id as string;
    const before = await runCli(["--db", "real.db", "status", "--runs", "--json"], { cwd: dir });

    const sim = await runCli(["simulate", "noop.yaml", "-i", "local.ini", "--db", "real.db"], { cwd: dir });
    expect(sim.code, sim.stderr).toBe(2);
    expect(sim.stderr).toBe(
      `overhaul: real.db: --db: holds 1 real run(s) (the newest: ${runId}, plan noop); simulations never share a database with real runs ` +
        "(expected a new file, :memory:, or a database that holds only simulations)\n",
    );
    const after = await runCli(["--db", "real.db", "status", "--runs", "--json"], { cwd: dir });
    expect(after.stdout).toBe(before.stdout);

    // A database of simulations takes more; the hint names the run to report.
    const first = await runCli(["simulate", "noop.yaml", "-i", "local.ini", "--db", "sims.db"], { cwd: dir });
    expect(first.code, first.stderr).toBe(0);
    const id = /`overhaul report --db sims\.db (sim-[0-9a-f]{12})` shows it again/.exec(first.stderr)?.[1];
    expect(id, first.stderr).toBeDefined();
    const again = await runCli(
      ["simulate", "noop.yaml", "-i", "local.ini", "--db", "sims.db", "--seed", "2"],
      {
        cwd: dir,
      },
    );
    expect(again.code, again.stderr).toBe(0);
    const shown = await runCli(["report", "--db", "sims.db", id as string], { cwd: dir });
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain(`report of run ${id}`);
  });

  it("`overhaul run` refuses a plan with drain / reinstate steps before touching a host (exit 2)", async () => {
    const dir = sandbox("run-drain");
    writeFileSync(
      join(dir, "plan.yaml"),
      `name: drain-for-real
hosts: web
steps:
  - { name: drain, kind: drain }
  - { name: reboot, kind: reboot }
  - { name: reinstate, kind: reinstate }
`,
    );
    const r = await runCli(["run", "plan.yaml", "-i", "examples/quickstart/inventory.ini", "--all"], {
      cwd: dir,
    });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(
      /plan\.yaml: steps\[0\]\.kind: step "drain" \(drain\) moves workloads, which real runs cannot do yet/,
    );
    expect(r.stderr).toMatch(/steps\[2\]\.kind: step "reinstate"/);
    expect(r.stderr).toContain("overhaul simulate");
    // No host was touched (the quick start's hosts keep their state under .overhaul/quickstart).
    expect(existsSync(join(dir, ".overhaul/quickstart"))).toBe(false);
  });

  it("`overhaul --db <simulation db> resume` refuses to drive a simulated run for real (exit 4)", async () => {
    const dir = sandbox("resume-sim");
    mkdirSync(join(dir, "sims"));
    // A small simulation (one worker, one hold-over) whose worker never comes back: a failed run.
    writeFileSync(
      join(dir, "dies.yaml"),
      "seed: 2\nfailures:\n  - { kind: never-returns, host: r01-h001 }\n",
    );
    const small = [
      "simulate",
      "examples/demo/plan.yaml",
      "--fleet",
      "regions=1,hosts=2,holdovers=0.5,workloads=2",
    ];
    const args = [...small, "--scenario", "dies.yaml", "--json", "--db", "sims/demo.db"];
    const sim = await runCli(args, { cwd: dir });
    expect(sim.code, sim.stderr).toBe(3);
    const id = JSON.parse(sim.stdout).report.run.id as string;
    const before = await runCli(["--db", "sims/demo.db", "status", id, "--json"], { cwd: dir });
    expect(before.code, before.stderr).toBe(0);
    expect(JSON.parse(before.stdout).run.state).toBe("failed");

    for (const args of [["resume"], ["resume", id], ["resume", id, "--detach"]]) {
      const r = await runCli(["--db", "sims/demo.db", ...args], { cwd: dir });
      expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(4);
      expect(r.stderr).toContain(`run ${id} is a simulation`);
      expect(r.stderr).toContain("never driven against real hosts");
    }
    const after = await runCli(["--db", "sims/demo.db", "status", id, "--json"], { cwd: dir });
    expect(after.stdout).toBe(before.stdout);
    // The same simulation into the same file again is refused too: it would come out identical.
    const again = await runCli(args, { cwd: dir });
    expect(again.code).toBe(2);
    expect(again.stderr).toContain("is already stored here");
  });
});
