/**
 * The HTML report opens in Chromium and its timeline is drawn (issue 3's acceptance).
 *
 * A real run through the built CLI on the local transport (the quick start's hosts, one of them
 * made to fail its smoke test and be rolled back), `overhaul report -o report.html`, then headless
 * Debian Chromium through playwright-core: the page loads nothing but itself, the SVG has one row
 * per host, every bar is laid out with a non-zero width and painted with its stage colour (so the
 * inline CSS applies under the page's CSP), the failed host carries a failure mark and a revert,
 * and the waves are drawn. A screenshot is taken; set OVERHAUL_REPORT_SCREENSHOT=FILE to keep it.
 *
 * The demo's report (`overhaul demo --fast`, a simulated run with workloads) is opened the same way:
 * one row per host, the failure mark on the host that never came back, attempt marks on the one
 * whose upgrade was retried, and the workload downtime figures in the page.
 *
 * Without /usr/bin/chromium (apt-get install chromium) the suite is skipped with that reason,
 * except under CI=true, where it fails: CI must prove the report renders. Never downloads a browser.
 */
import { copyFileSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, runCli } from "../support/cli.js";

const CHROMIUM = "/usr/bin/chromium";
const present = existsSync(CHROMIUM);
const inCi = process.env.CI === "true";
const MISSING = `${CHROMIUM} is missing (apt-get install chromium)`;
const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

const PLAN = `name: report-e2e
hosts: web
waves:
  - { name: canary, count: 1 }
  - { percent: 50 }
  - { percent: 100 }
concurrency: { global: 4, perRegion: 2 }
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
    run: sleep 0.1 && test ! -f broken-$OVERHAUL_HOST
    idempotent: true
    retry: { attempts: 2, backoff: { initial: 100ms } }
`;

interface Drawn {
  rows: {
    host: string;
    state: string;
    bars: number[];
    fills: string[];
    failMarks: number;
    attemptMarks: number;
    reverts: number;
  }[];
  waves: number;
  svgWidth: number;
}

/** Runs in the page (a string: the project's TypeScript has no DOM types). */
const MEASURE = `(() => {
  const svg = document.querySelector("svg#timeline");
  if (!svg) return { rows: [], waves: 0, svgWidth: 0 };
  const rows = [...svg.querySelectorAll("g.row")].map((g) => {
    const bars = [...g.querySelectorAll(".bar")];
    return {
      host: g.getAttribute("data-host") ?? "",
      state: g.getAttribute("data-state") ?? "",
      bars: bars.map((b) => b.getBoundingClientRect().width),
      fills: bars.filter((b) => !b.classList.contains("rv")).map((b) => getComputedStyle(b).fill),
      failMarks: g.querySelectorAll(".mk-failed").length,
      attemptMarks: g.querySelectorAll(".mk-attempt").length,
      reverts: g.querySelectorAll(".bar.rv").length,
    };
  });
  return {
    rows,
    waves: svg.querySelectorAll("line.wave").length,
    svgWidth: svg.getBoundingClientRect().width,
  };
})()`;

describe.skipIf(!present && !inCi)(
  `HTML report in headless Chromium (${present ? CHROMIUM : MISSING})`,
  () => {
    let work: string;
    let context: BrowserContext | undefined;

    beforeAll(async () => {
      if (!present) throw new Error(`${MISSING}; CI=true requires it`);
      work = mkdtempSync(join(tmpdir(), "overhaul-report-"));
      cpSync(join(ROOT, "examples/quickstart"), join(work, "examples/quickstart"), { recursive: true });
      writeFileSync(join(work, "plan.yaml"), PLAN);
      writeFileSync(join(work, "broken-eu-web03"), "");
      // A fresh profile per run: nothing from another browser session can change what we see.
      context = await chromium.launchPersistentContext(join(work, "profile"), {
        executablePath: CHROMIUM,
        args: ARGS,
        viewport: { width: 1280, height: 900 },
        deviceScaleFactor: 1,
      });
    });

    afterAll(async () => {
      await context?.close();
      if (work) rmSync(work, { recursive: true, force: true });
    });

    it("draws one row per host, the bars, the failure and the waves", async () => {
      const run = await runCli(
        ["run", "plan.yaml", "-i", "examples/quickstart/inventory.ini", "--all", "-q"],
        {
          cwd: work,
        },
      );
      expect(run.code, run.stderr).toBe(3); // one host failed, as arranged
      const out = join(work, "report.html");
      const rep = await runCli(["report", "-o", out], { cwd: work });
      expect(rep.code, rep.stderr).toBe(0);
      const json = await runCli(["report", "--format", "json"], { cwd: work });
      const report = JSON.parse(json.stdout);
      expect(report.totals).toMatchObject({ hosts: 8, done: 7, failed: 1, rollbacks: 1 });
      expect(readFileSync(out, "utf8")).not.toMatch(/https?:\/\//);

      const page = await (context as BrowserContext).newPage();
      const requests: string[] = [];
      page.on("request", (r) => requests.push(r.url()));
      await page.goto(`file://${out}`, { waitUntil: "load" });
      expect(requests).toEqual([`file://${out}`]);
      expect(await page.title()).toContain(report.run.id);

      const drawn = (await page.evaluate(MEASURE)) as Drawn;

      expect(drawn.svgWidth).toBeGreaterThan(500);
      expect(drawn.rows.map((r) => r.host).sort()).toEqual(
        report.hosts.map((h: { host: string }) => h.host).sort(),
      );
      expect(drawn.rows).toHaveLength(8);
      for (const r of drawn.rows) {
        expect(r.bars.length, r.host).toBeGreaterThanOrEqual(2);
        for (const w of r.bars) expect(w, r.host).toBeGreaterThan(0);
        // Stage colours come from the inline stylesheet: a bar that fell back to the default fill is black.
        for (const f of r.fills) expect(f, r.host).not.toBe("rgb(0, 0, 0)");
      }
      const failed = drawn.rows.find((r) => r.host === "eu-web03");
      expect(failed).toMatchObject({ state: "failed", failMarks: 1, reverts: 1 });
      for (const r of drawn.rows.filter((x) => x.host !== "eu-web03")) expect(r.failMarks, r.host).toBe(0);
      expect(drawn.waves).toBe(3);

      const png = join(work, "report.png");
      await page.screenshot({ path: png, fullPage: true });
      expect(readFileSync(png).subarray(1, 4).toString()).toBe("PNG");
      const keep = process.env.OVERHAUL_REPORT_SCREENSHOT;
      if (keep) copyFileSync(png, keep);
      await page.close();
    });

    it("draws the demo's simulated run: a row per host, r02-h003's failure, the workload downtime", async () => {
      const demo = await runCli(["demo", "--fast", "--report", "demo-report"], { cwd: work });
      expect(demo.code, demo.stderr).toBe(0);
      const out = join(work, "demo-report/report.html");
      const { report } = JSON.parse(readFileSync(join(work, "demo-report/report.json"), "utf8"));
      expect(report.hosts).toHaveLength(12);
      expect(report.workloadDowntime.samples).toBeGreaterThan(0);

      const page = await (context as BrowserContext).newPage();
      const requests: string[] = [];
      page.on("request", (r) => requests.push(r.url()));
      await page.goto(`file://${out}`, { waitUntil: "load" });
      expect(requests).toEqual([`file://${out}`]);

      const drawn = (await page.evaluate(MEASURE)) as Drawn;
      expect(drawn.svgWidth).toBeGreaterThan(500);
      expect(drawn.rows.map((r) => r.host).sort()).toEqual(
        report.hosts.map((h: { host: string }) => h.host).sort(),
      );
      for (const r of drawn.rows) {
        // drain, upgrade, reboot, healthy, reinstate: at least a bar per stage reached.
        expect(r.bars.length, r.host).toBeGreaterThanOrEqual(3);
        for (const w of r.bars) expect(w, r.host).toBeGreaterThan(0);
        for (const f of r.fills) expect(f, r.host).not.toBe("rgb(0, 0, 0)");
      }
      const dead = drawn.rows.find((r) => r.host === "r02-h003");
      expect(dead).toMatchObject({ state: "failed", failMarks: 1, reverts: 1 });
      expect(dead?.attemptMarks).toBeGreaterThanOrEqual(2);
      for (const r of drawn.rows.filter((x) => x.host !== "r02-h003")) {
        expect(r.state, r.host).toBe("succeeded");
        expect(r.failMarks, r.host).toBe(0);
      }
      expect(drawn.rows.find((r) => r.host === "r03-h002")?.attemptMarks).toBe(1);
      expect(drawn.waves).toBe(2);

      // The downtime figures: the regions table's p50 / p99 / max columns, and the summary line.
      const text = (await page.evaluate(`(() => {
        const h2 = [...document.querySelectorAll("h2")].find((h) => h.textContent === "Workload downtime");
        const head = [...document.querySelectorAll("table thead th")].map((th) => th.textContent);
        return { summary: h2?.nextElementSibling?.textContent ?? "", head };
      })()`)) as { summary: string; head: string[] };
      expect(text.summary).toMatch(
        new RegExp(
          `^p50 \\S+, p99 \\S+, max \\S+ over ${report.workloadDowntime.samples} workload moves\\.$`,
        ),
      );
      expect(text.head).toEqual(expect.arrayContaining(["downtime p50", "p99", "max"]));
      await page.close();
    });
  },
);
