/**
 * The dashboard in headless Debian Chromium (playwright-core, never a downloaded browser), served
 * by the built `overhaul serve`:
 * - a run the service drives on local hosts whose steps only sleep: an operator logs in, watches
 *   hosts change stage live, pauses and resumes the run with the buttons;
 * - a viewer sees no control button and gets 403 when calling the API anyway;
 * - a simulated run (`overhaul demo --db` on the service's database: the simulator's fleet, its
 *   drains, reboots and injected failures, in paced virtual time): the operator watches it live,
 *   pauses and resumes it, and sees the injected failure with its reason.
 * Screenshots go to test-artifacts/dashboard/ (git-ignored).
 *
 * Without /usr/bin/chromium the suite is skipped with that reason, except under CI=true, where it
 * fails.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, runCli, startCli } from "../support/cli.js";
import { type ServeProcess, startServe } from "../support/serve-cli.js";

const CHROMIUM = "/usr/bin/chromium";
const present = existsSync(CHROMIUM);
const inCi = process.env.CI === "true";
const MISSING = `${CHROMIUM} is missing (apt-get install chromium)`;
const ARTIFACTS = join(ROOT, "test-artifacts", "dashboard");

const dir = mkdtempSync(join(tmpdir(), "overhaul-dash-"));
const db = join(dir, "o.db");
const inventory = join(dir, "inventory.ini");
writeFileSync(
  inventory,
  "[eu]\neu-web0[1:4]\n[us]\nus-web0[1:4]\n[eu:vars]\noverhaul_region=eu-west\n[us:vars]\noverhaul_region=us-east\n[web:children]\neu\nus\n[all:vars]\nansible_connection=local\n",
);
const PLAN = `name: dashboard-e2e
hosts: web
concurrency: { global: 2 }
steps:
  - { name: drain-traffic, kind: command, run: "sleep 0.4", idempotent: true }
  - { name: upgrade, kind: command, run: "sleep 0.6", idempotent: true, revert: "true" }
  - { name: verify, kind: command, run: "sleep 0.3", idempotent: true }
`;

/** The page's globals, typed just enough (this file compiles without the DOM library). */
interface PageElement {
  getAttribute(n: string): string | null;
}
interface PageGlobals {
  document: {
    querySelector(s: string): PageElement | null;
    querySelectorAll(s: string): Iterable<PageElement>;
  };
  sessionStorage: { getItem(k: string): string | null };
}

let server: ServeProcess | undefined;
let url = "";
let browser: Browser | undefined;
const tokens: Record<string, string> = {};
let runId = "";

describe.skipIf(!present && !inCi)(`dashboard in headless Chromium (${present ? CHROMIUM : MISSING})`, () => {
  beforeAll(async () => {
    if (!present) throw new Error(`${MISSING}; CI=true requires it`);
    mkdirSync(ARTIFACTS, { recursive: true });
    for (const role of ["viewer", "operator"]) {
      const r = await runCli(["--db", db, "token", "create", "--role", role, "--name", `dash-${role}`], {
        cwd: dir,
      });
      tokens[role] = r.stdout.trim();
    }
    server = await startServe(db, ["-i", inventory], dir);
    url = server.url;
    const json = { authorization: `Bearer ${tokens.operator}`, "content-type": "application/json" };
    await fetch(`${url}/api/plans`, { method: "POST", headers: json, body: JSON.stringify({ body: PLAN }) });
    const run = await fetch(`${url}/api/runs`, {
      method: "POST",
      headers: json,
      body: JSON.stringify({ plan: "dashboard-e2e", revision: 1, all: true }),
    });
    runId = ((await run.json()) as { id: string }).id;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
      ],
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function loginAs(role: "viewer" | "operator"): Promise<Page> {
    const page = await browser!.newPage({ viewport: { width: 1280, height: 900 } });
    const outside: string[] = [];
    page.on("request", (r) => {
      if (!r.url().startsWith(url)) outside.push(r.url());
    });
    await page.goto(url);
    await page.fill("#token", tokens[role]!);
    await page.click("#login button[type=submit]");
    await page.waitForSelector(`body[data-role="${role}"]`);
    await page.waitForSelector(".host[data-host]");
    expect(outside).toEqual([]);
    return page;
  }

  const stageOf = (page: Page, host: string) => page.getAttribute(`.host[data-host="${host}"]`, "data-stage");

  it("an operator watches hosts change stage live, pauses and resumes the run", async () => {
    const page = await loginAs("operator");
    expect(await page.locator(".region").count()).toBe(2);
    expect(await page.locator(".host").count()).toBe(8);
    expect(await page.locator(".step").allInnerTexts()).toEqual([
      expect.stringContaining("drain-traffic"),
      expect.stringContaining("upgrade"),
      expect.stringContaining("verify"),
    ]);
    // Live: the grid changes without a reload, driven by the event stream.
    const host = "us-web04";
    const first = await stageOf(page, host);
    await page.waitForFunction(
      ([h, was]) =>
        (globalThis as unknown as PageGlobals).document
          .querySelector(`.host[data-host="${h}"]`)
          ?.getAttribute("data-stage") !== was,
      [host, first] as const,
      { timeout: 20_000 },
    );
    expect(await page.locator("#timeline li").count()).toBeGreaterThan(0);
    await page.screenshot({ path: join(ARTIFACTS, "operator-live.png"), fullPage: true });

    await page.click('button[data-action="pause"]');
    await page.waitForSelector('#run-state[data-state="paused"]');
    const api = await fetch(`${url}/api/runs/${runId}`, {
      headers: { authorization: `Bearer ${tokens.viewer}` },
    });
    expect(((await api.json()) as { state: string }).state).toBe("paused");
    await page.screenshot({ path: join(ARTIFACTS, "operator-paused.png"), fullPage: true });
    await page.click('button[data-action="resume"]');
    await page.waitForSelector('#run-state[data-state="running"], #run-state[data-state="succeeded"]');
    await page.waitForSelector('#run-state[data-state="succeeded"]', { timeout: 30_000 });
    expect(await page.locator('.host[data-state="succeeded"]').count()).toBe(8);
    await page.screenshot({ path: join(ARTIFACTS, "operator-finished.png"), fullPage: true });
    // The operator has no abort button (admin only).
    expect(await page.locator('button[data-action="abort"]').count()).toBe(0);
    await page.close();
  }, 60_000);

  it("a viewer sees no control buttons and gets 403 calling the API anyway", async () => {
    // A second run still going, so an operator would see buttons.
    const json = { authorization: `Bearer ${tokens.operator}`, "content-type": "application/json" };
    const run = await fetch(`${url}/api/runs`, {
      method: "POST",
      headers: json,
      body: JSON.stringify({ plan: "dashboard-e2e", revision: 1, limit: "eu" }),
    });
    const second = ((await run.json()) as { id: string }).id;
    const page = await loginAs("viewer");
    await page.waitForSelector('#run-state[data-state="running"]');
    expect(await page.locator("#run-select").inputValue()).toBe(second);
    expect(await page.locator("button[data-action]").count()).toBe(0);
    // In the page, with the token the dashboard holds (the page's CSP forbids string eval).
    const status = await page.evaluate(async (id) => {
      const t = (globalThis as unknown as PageGlobals).sessionStorage.getItem("overhaul.token");
      const res = await fetch(`/api/runs/${id}/pause`, {
        method: "POST",
        headers: { authorization: `Bearer ${t}`, "content-type": "application/json" },
        body: "{}",
      });
      return res.status;
    }, second);
    expect(status).toBe(403);
    await page.click(".host[data-host='eu-web01']");
    await page.waitForSelector("#host-detail .runbook");
    await page.screenshot({ path: join(ARTIFACTS, "viewer.png"), fullPage: true });
    await page.close();
  }, 60_000);

  it("an operator watches a simulated run live, pauses and resumes it, and sees its injected failure", async () => {
    const demo = startCli(["--db", db, "demo", "--report", join(dir, "demo-report")], { cwd: ROOT });
    const auth = { authorization: `Bearer ${tokens.viewer}` };
    let simId = "";
    for (let i = 0; i < 100 && !simId; i++) {
      const runs = (await (await fetch(`${url}/api/runs`, { headers: auth })).json()) as {
        id: string;
        options: { simulated?: boolean };
      }[];
      simId = runs.find((r) => r.options.simulated === true)?.id ?? "";
      if (!simId) await new Promise((r) => setTimeout(r, 100));
    }
    expect(simId).toMatch(/^sim-/);
    const page = await loginAs("operator");
    // Simulated runs are dated in virtual time: pick it from the list.
    await page.selectOption("#run-select", simId);
    await page.waitForSelector('.region[data-region="r03"]');
    expect(await page.locator(".region").count()).toBe(3);
    // Live: some host moves on to another stage while we watch.
    const before = await page.$$eval(".host", (els) =>
      els.map((e) => `${e.getAttribute("data-host")}=${e.getAttribute("data-stage")}`).join(","),
    );
    await page.waitForFunction(
      (was) =>
        Array.from((globalThis as unknown as PageGlobals).document.querySelectorAll(".host"))
          .map((e) => `${e.getAttribute("data-host")}=${e.getAttribute("data-stage")}`)
          .join(",") !== was,
      before,
      { timeout: 20_000 },
    );
    await page.screenshot({ path: join(ARTIFACTS, "simulated-live.png"), fullPage: true });
    await page.click('button[data-action="pause"]');
    await page.waitForSelector('#run-state[data-state="paused"]');
    await page.screenshot({ path: join(ARTIFACTS, "simulated-paused.png"), fullPage: true });
    await page.click('button[data-action="resume"]');
    await page.waitForSelector('#run-state[data-state="failed"]', { timeout: 40_000 });
    // The scenario's host that never comes back from its reboot, with its reason.
    await page.waitForSelector('[data-failure="r02-h003"]');
    expect(await page.locator('[data-failure="r02-h003"]').textContent()).toMatch(/at reboot: .*boot id/);
    // Nothing would drive a simulated run again: no Retry; the API refuses it too.
    expect(await page.locator('[data-failure="r02-h003"] button[data-action="retry"]').count()).toBe(0);
    const retry = await fetch(`${url}/api/runs/${simId}/hosts/r02-h003/retry`, {
      method: "POST",
      headers: { authorization: `Bearer ${tokens.operator}` },
    });
    expect(retry.status).toBe(409);
    await page.screenshot({ path: join(ARTIFACTS, "simulated-finished.png"), fullPage: true });
    const done = await demo.done;
    expect(done.code, done.stderr).toBe(0);
    await page.close();
  }, 90_000);
});
