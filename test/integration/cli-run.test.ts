/**
 * The CLI end to end on the local transport, as an operator uses it: the quick start, a failing
 * host that is rolled back and then retried, pause / resume / abort from a second process, and
 * Ctrl-C detaching a coordinator that `resume` then replaces.
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
import { ROOT, runCli, startCli } from "../support/cli.js";

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "overhaul-cli-"));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

function sandbox(name: string): string {
  const dir = join(work, name);
  cpSync(join(ROOT, "examples/quickstart"), join(dir, "examples/quickstart"), { recursive: true });
  return dir;
}

const QS = ["examples/quickstart/plan.yaml", "-i", "examples/quickstart/inventory.ini"];

async function status(dir: string, run?: string) {
  const r = await runCli(["status", ...(run ? [run] : []), "--json"], { cwd: dir });
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

async function until(pred: () => Promise<boolean>, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await pred()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("condition not met in time");
}

describe("overhaul run (local transport)", () => {
  it("the quick start upgrades and reboots every host, canary first, one per rack", async () => {
    const dir = sandbox("quickstart");
    const r = await runCli(["run", ...QS, "--all"], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("SUCCEEDED");
    const s = await status(dir);
    expect(s.counts.succeeded).toBe(8);
    for (const h of s.hosts) {
      const state = join(dir, ".overhaul/quickstart", h.host);
      expect(readFileSync(join(state, "version"), "utf8").trim()).toBe("2.0");
      expect(existsSync(join(state, "backups", `version.${s.run.id}`))).toBe(true);
      expect(readFileSync(join(state, "history"), "utf8")).toContain("upgrade to 2.0");
    }
    // canary first: the first host finished before any other started
    const lines = r.stderr.split("\n");
    const canaryDone = lines.findIndex((l) => /eu-web01 succeeded/.test(l));
    const secondStart = lines.findIndex((l) => / started \(wave 2\)/.test(l));
    expect(canaryDone).toBeGreaterThan(-1);
    expect(secondStart).toBeGreaterThan(canaryDone);
    // the event log was written
    expect(readFileSync(join(dir, ".overhaul/logs", `${s.run.id}.jsonl`), "utf8")).toContain(
      '"msg":"host.succeeded"',
    );
  });

  it("a failing host is rolled back and reported; after a fix, retry + resume finishes the run", async () => {
    const dir = sandbox("retry");
    writeFileSync(
      join(dir, "plan.yaml"),
      `name: with-failure
hosts: eu_west
failureBudget: { maxFailed: 1 }
steps:
  - name: backup
    kind: command
    run: sh examples/quickstart/host.sh backup
    idempotent: true
  - name: upgrade
    kind: command
    run: sh examples/quickstart/host.sh upgrade 2.0
    check: sh examples/quickstart/host.sh is-version 2.0
    revert: sh examples/quickstart/host.sh restore
  - name: smoke
    kind: command
    run: test ! -f broken-$OVERHAUL_HOST
    idempotent: true
    retry: { attempts: 2, backoff: { initial: 100ms } }
`,
    );
    writeFileSync(join(dir, "broken-eu-web03"), "");
    const r = await runCli(
      ["run", "plan.yaml", "-i", "examples/quickstart/inventory.ini", "--limit", "eu_west"],
      { cwd: dir },
    );
    expect(r.code, r.stderr).toBe(3);
    expect(r.stdout).toContain("eu-web03 (failed)");
    expect(r.stderr).toMatch(/eu-web03 step smoke attempt 1 failed/);
    const s = await status(dir);
    const h3 = s.hosts.find((h: { host: string }) => h.host === "eu-web03");
    expect(h3.state).toBe("failed");
    expect(h3.reason).toMatch(/step "smoke" failed after 2 attempt\(s\).*rolled back/);
    // rolled back: eu-web03 is on 1.0 again, the others on 2.0
    const version = (h: string) =>
      readFileSync(join(dir, ".overhaul/quickstart", h, "version"), "utf8").trim();
    expect(version("eu-web03")).toBe("1.0");
    expect(version("eu-web01")).toBe("2.0");

    rmSync(join(dir, "broken-eu-web03"));
    const retry = await runCli(["retry", "eu-web03"], { cwd: dir });
    expect(retry.code, retry.stderr).toBe(0);
    const resumed = await runCli(["resume"], { cwd: dir });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect((await status(dir)).counts.succeeded).toBe(4);
    expect(version("eu-web03")).toBe("2.0");
  });

  it("a host's output quoting terminal control sequences is shown, never obeyed (run, status, report)", async () => {
    const dir = sandbox("escapes");
    // A title (OSC 0), a clipboard write (OSC 52), a screen clear, a colour, a right-to-left override.
    const evil = String.raw`\033]0;PWNED\007\033]52;c;ZXZpbA==\007\033[2J\033[31mRED\342\200\256txt.exe`;
    writeFileSync(join(dir, "say.sh"), `printf '${evil}' >&2; exit 1\n`);
    writeFileSync(
      join(dir, "plan.yaml"),
      `name: noisy\nhosts: eu-web01\nsteps:\n  - { name: say, kind: command, run: "sh ${join(dir, "say.sh")}", idempotent: true }\n`,
    );
    const runs = [
      await runCli(["run", "plan.yaml", "-i", "examples/quickstart/inventory.ini", "--limit", "eu-web01"], {
        cwd: dir,
      }),
    ];
    expect(runs[0]?.code, runs[0]?.stderr).toBe(3);
    for (const args of [["status"], ["status", "--hosts"], ["report"], ["report", "--format", "md"]])
      runs.push(await runCli(args, { cwd: dir }));
    const list = await runCli(["status", "--runs"], { cwd: dir });
    for (const r of [...runs, list]) {
      const all = `${r.stdout}${r.stderr}`;
      // No control character reaches the terminal (no colour either: not a TTY).
      expect(all).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202e]/);
      // Markdown escapes the backslash and the bracket, which render as the same text.
      const shown =
        r === runs.at(-1) ? String.raw`\\u001b\]0;PWNED\\u0007` : String.raw`\u001b]0;PWNED\u0007`;
      if (r !== list) expect(all).toContain(shown);
    }
    // Redirected (not a terminal), a report is the same bytes as one written with -o.
    for (const format of ["json", "html"]) {
      const out = await runCli(["report", "--format", format], { cwd: dir });
      const file = await runCli(["report", "--format", format, "-o", join(dir, `r.${format}`)], { cwd: dir });
      expect(file.code, file.stderr).toBe(0);
      expect(out.stdout).toBe(readFileSync(join(dir, `r.${format}`), "utf8"));
    }
    // What is stored is what the host said: the JSON form gives it back unchanged.
    const s = await status(dir);
    expect(s.hosts[0].reason).toContain("\u001b]52;c;ZXZpbA==\u0007\u001b[2J\u001b[31mRED\u202etxt.exe");
  });

  it("a step timeout longer than a Node timer holds (~24.8 days) does not fire at once", async () => {
    const dir = join(work, "long-timeout");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "inventory.ini"), "[web]\nweb01 ansible_connection=local\n");
    writeFileSync(
      join(dir, "plan.yaml"),
      `name: long-timeout
hosts: web
steps:
  - { name: wait, kind: command, run: "sleep 0.3", timeout: 30d }
  - { name: rest, kind: sleep, duration: 100ms, timeout: 40d }
`,
    );
    const r = await runCli(["run", "plan.yaml", "-i", "inventory.ini", "--all", "-q"], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toContain("TimeoutOverflowWarning");
    const s = await status(dir);
    expect(s.counts.succeeded).toBe(1);
  });

  it("pause, resume and abort act on a run driven by another process, which shows them and logs them", async () => {
    const dir = sandbox("control");
    writeFileSync(
      join(dir, "plan.yaml"),
      `name: slow
hosts: web
concurrency: { global: 1 }
steps:
  - { name: work, kind: command, run: "sleep 3", idempotent: true }
`,
    );
    const p = startCli(["run", "plan.yaml", "-i", "examples/quickstart/inventory.ini", "--all"], {
      cwd: dir,
    });
    await until(async () => (await runCli(["status", "--json"], { cwd: dir })).code === 0);
    const pause = await runCli(["pause", "--reason", "checking dashboards"], { cwd: dir });
    expect(pause.code, pause.stderr).toBe(0);
    // The step in flight (3 s; long enough that a loaded machine still aborts before the last
    // host ends) finishes; nothing new starts.
    await new Promise((r) => setTimeout(r, 3_500));
    const paused = await status(dir);
    expect(paused.run.state).toBe("paused");
    expect(paused.run.reason).toBe("checking dashboards");
    const done = paused.counts.succeeded;
    await new Promise((r) => setTimeout(r, 1_500));
    expect((await status(dir)).counts.succeeded).toBe(done); // nothing moves while paused
    // A second run on hosts the paused run still holds is refused, and nothing is created.
    const second = await runCli(["run", "plan.yaml", "-i", "examples/quickstart/inventory.ini", "--all"], {
      cwd: dir,
    });
    expect(second.code, second.stderr).toBe(4);
    expect(second.stderr).toMatch(
      /refusing to start: \d host\(s\) belong to a run that is not finished: \S+ \(run r-\S+, paused; host pending\)/,
    );
    const runs = await runCli(["status", "--runs", "--json"], { cwd: dir });
    expect(JSON.parse(runs.stdout)).toHaveLength(1);
    expect((await runCli(["resume", "--detach"], { cwd: dir })).code).toBe(0);
    await until(async () => (await status(dir)).counts.succeeded > done);
    expect((await runCli(["abort"], { cwd: dir })).code).toBe(0);
    const r = await p.done;
    expect(r.code, r.stderr).toBe(3);
    const s = await status(dir);
    expect(s.run.state).toBe("aborted");
    expect(s.counts.aborted).toBeGreaterThan(0);
    expect(s.counts.succeeded + s.counts.aborted).toBe(8);
    // a finished run cannot be paused
    const again = await runCli(["pause"], { cwd: dir });
    expect(again.code).toBe(2);
    expect(again.stderr).toContain("cannot pause");
    // The driving process showed the other shells' actions, and its log has them, once each.
    expect(r.stderr).toMatch(/run PAUSED by operator:\S+ — checking dashboards\n/);
    expect(r.stderr).toMatch(/run running again \(resumed by operator:\S+\)\n/);
    expect(r.stderr).toMatch(/run ABORTING by operator:\S+\n/);
    const log = readFileSync(join(dir, ".overhaul/logs", `${s.run.id}.jsonl`), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    const runEvents = log.filter((l) => /^run\./.test(l.msg)).map((l) => [l.msg, l.actor.split(":")[0]]);
    expect(runEvents).toEqual([
      ["run.paused", "operator"],
      ["run.running", "operator"],
      ["run.aborting", "operator"],
      ["run.aborted", expect.not.stringMatching(/^operator$/)],
    ]);
  });

  it("a run paused at a manual gate says to approve it with `resume --detach`, which lets its coordinator carry on", async () => {
    const dir = sandbox("gate");
    writeFileSync(
      join(dir, "plan.yaml"),
      `name: gated
hosts: web
waves:
  - { name: canary, count: 1 }
  - { percent: 100 }
steps:
  - { name: work, kind: command, run: "true", idempotent: true }
  - { name: canary-ok, kind: gate, approval: true }
`,
    );
    const p = startCli(["run", "plan.yaml", "-i", "examples/quickstart/inventory.ini", "--all"], {
      cwd: dir,
    });
    await until(async () => {
      const r = await runCli(["status", "--json"], { cwd: dir });
      return r.code === 0 && JSON.parse(r.stdout).run.state === "paused";
    });
    const id = (await status(dir)).run.id;
    const detach = await runCli(["resume", id, "--detach"], { cwd: dir });
    expect(detach.code, detach.stderr).toBe(0);
    const r = await p.done;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("SUCCEEDED");
    expect(r.stderr).toContain(
      `run PAUSED — gate "canary-ok" awaits approval: run \`overhaul resume ${id} --detach\` (the coordinator waiting at it carries on; if it has stopped, \`overhaul resume ${id}\`)`,
    );
    expect(r.stderr).toMatch(/run running again \(resumed by operator:\S+\)\n/);
    expect(r.stderr).toMatch(/gate "canary-ok" approved by operator:\S+\n/);
  });

  it("resume says at once which coordinator holds the run and how long it waits; Ctrl-C ends the wait", async () => {
    const dir = sandbox("takeover-wait");
    writeFileSync(
      join(dir, "plan.yaml"),
      `name: long
hosts: eu_west
steps:
  - { name: work, kind: command, run: "sleep 12", idempotent: true }
`,
    );
    const TTL = ["--lease-ttl", "5s"];
    const first = startCli(
      ["run", "plan.yaml", "-i", "examples/quickstart/inventory.ini", "-l", "eu_west", ...TTL],
      {
        cwd: dir,
      },
    );
    try {
      await until(async () => {
        const r = await runCli(["status", "--json"], { cwd: dir });
        return r.code === 0 && JSON.parse(r.stdout).counts.running > 0;
      });
      let sawAt = 0;
      const started = Date.now();
      const second = startCli(["resume", ...TTL], {
        cwd: dir,
        onStderr: (all) => {
          if (!sawAt && all.includes("waiting up to")) sawAt = Date.now();
        },
      });
      await until(async () => sawAt > 0, 15_000);
      second.child.kill("SIGINT");
      const r2 = await second.done;
      const ended = Date.now();
      expect(r2.code, r2.stderr).toBe(130);
      expect(r2.stderr).toMatch(
        /waiting: run held by coordinator \S+ until \d\d:\d\d:\d\dZ; waiting up to (9|10|11) s to take over \(Ctrl-C is safe/,
      );
      expect(r2.stderr).not.toContain("internal error");
      // Said before the wait (about 10 s), not after it; the Ctrl-C ended it at once.
      expect(sawAt - started).toBeLessThan(5_000);
      expect(ended - sawAt).toBeLessThan(5_000);
      const s = await status(dir);
      expect(s.run.state).toBe("running");
      expect(s.counts.running).toBeGreaterThan(0);
    } finally {
      // The first coordinator was never disturbed: it finishes the run.
      const r1 = await first.done;
      expect(r1.code, r1.stderr).toBe(0);
    }
  });

  it("Ctrl-C detaches (exit 130); resume takes over and finishes", async () => {
    const dir = sandbox("detach");
    const marks = join(dir, "marks");
    mkdirSync(marks);
    // Each step leaves a mark when it really starts, so Ctrl-C lands while a step is in flight
    // (a host's "started" line can come before its first step runs).
    writeFileSync(
      join(dir, "plan.yaml"),
      `name: slow
hosts: eu_west
concurrency: { global: 2 }
steps:
  - { name: work, kind: command, run: "touch ${marks}/$$ && sleep 0.5", idempotent: true }
`,
    );
    let sent = false;
    let inFlight = 0;
    const p = startCli(
      [
        "run",
        "plan.yaml",
        "-i",
        "examples/quickstart/inventory.ini",
        "--limit",
        "eu_west",
        "--lease-ttl",
        "2s",
      ],
      { cwd: dir },
    );
    const poll = setInterval(() => {
      if (sent) return;
      inFlight = readdirSync(marks).length;
      if (inFlight > 0) {
        sent = true;
        p.child.kill("SIGINT");
      }
    }, 10);
    const r = await p.done.finally(() => clearInterval(poll));
    expect(sent).toBe(true);
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toContain("detaching");
    // Steps in flight were allowed to finish: nothing failed, nothing is in doubt, and every
    // step that had started when Ctrl-C came has its host succeeded.
    const mid = await status(dir);
    expect(mid.counts.failed + mid.counts.in_doubt).toBe(0);
    expect(mid.counts.succeeded).toBeGreaterThanOrEqual(inFlight);
    const resumed = await runCli(["resume", "--lease-ttl", "2s"], { cwd: dir });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect((await status(dir)).counts.succeeded).toBe(4);
  });
  it("Ctrl-C, then `overhaul resume` while the step still runs past the lease's TTL: the step runs once", async () => {
    const dir = mkdtempSync(join(tmpdir(), "overhaul-lease-"));
    const ledger = join(dir, "ledger");
    writeFileSync(ledger, "");
    writeFileSync(
      join(dir, "inventory.ini"),
      "[fleet]\nnode01\n\n[fleet:vars]\nansible_connection=local\noverhaul_region=lab\n",
    );
    // Not idempotent, with a check: a successor that took the lease would find it "not done" and
    // run it again while the first copy still runs.
    writeFileSync(
      join(dir, "plan.yaml"),
      `name: migrate
hosts: fleet
steps:
  - { name: migrate, kind: command, run: 'echo start >> ${ledger}; sleep 5; echo done >> ${ledger}', check: 'grep -qx done ${ledger}', timeout: 1m }
`,
    );
    const env = { OVERHAUL_LOG_DIR: join(dir, "logs") };
    const first = startCli(["run", "plan.yaml", "-i", "inventory.ini", "--all", "--lease-ttl", "2s"], {
      cwd: dir,
      env,
    });
    for (let i = 0; i < 200 && !readFileSync(ledger, "utf8").includes("start"); i++)
      await new Promise((r) => setTimeout(r, 50));
    first.child.kill("SIGINT"); // the first Ctrl-C: detach once the step has finished
    const second = await runCli(["resume", "--lease-ttl", "2s"], { cwd: dir, env });
    const r1 = await first.done;
    expect(r1.code, r1.stderr).toBe(130);
    expect(readFileSync(ledger, "utf8").trim().split("\n")).toEqual(["start", "done"]);
    // The resume either waited the step out or gave up on a run held elsewhere; a last resume ends it.
    if (second.code !== 0) expect((await runCli(["resume"], { cwd: dir, env })).code).toBe(0);
    expect((await status(dir)).counts.succeeded).toBe(1);
    expect(readFileSync(ledger, "utf8").trim().split("\n")).toEqual(["start", "done"]);
  }, 60_000);
});
