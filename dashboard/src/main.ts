/**
 * The Overhaul dashboard: log in with a token, pick a run, watch its fleet grid (by region and
 * stage) change live, its timeline, the plan's step graph, failures with reasons and output, each
 * host's runbook, and the buttons the token's role allows (the server checks the role again on
 * every call: hiding a button is convenience, not security).
 */
import "./style.css";
import { ApiError, api, follow, type LiveEvent, TOKEN_KEY, token } from "./api.js";
import { el, replace, stageColor } from "./dom.js";

type Role = "viewer" | "operator" | "admin";
const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

interface RunSummaryView {
  id: string;
  options: { simulated?: boolean };
  plan: string;
  revision: number;
  state: string;
  currentWave: number;
  reason: string | null;
  failures: { host: string; state: string; step: string | null; reason: string | null }[];
  steps: {
    index: number;
    name: string;
    kind: string;
    pointOfNoReturn: boolean;
    hasRevert: boolean;
    attempts: number;
  }[];
}
interface HostView {
  host: string;
  region: string;
  state: string;
  stage: string;
  wave: number;
  attempts: number;
  reason: string | null;
}
interface RunListItem {
  id: string;
  plan: string;
  revision: number;
  state: string;
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

let role: Role = "viewer";
let runId: string | null = null;
let live: AbortController | null = null;
let refreshTimer: number | undefined;
const timeline: LiveEvent[] = [];

function allows(needs: Role): boolean {
  return RANK[role] >= RANK[needs];
}

function showError(where: string, err: unknown): void {
  $(where).textContent = err instanceof Error ? err.message : String(err);
}

async function login(secret: string): Promise<void> {
  sessionStorage.setItem(TOKEN_KEY, secret);
  try {
    const me = await api<{ name: string; role: Role }>("GET", "/api/whoami");
    role = me.role;
    $("who").textContent = `${me.name} (${me.role})`;
    $("login").hidden = true;
    $("app").hidden = false;
    $("logout").hidden = false;
    document.body.dataset.role = me.role;
    await loadRuns();
  } catch (err) {
    sessionStorage.removeItem(TOKEN_KEY);
    showError(
      "login-error",
      err instanceof ApiError && err.status === 401 ? new Error("invalid or revoked token") : err,
    );
    $("login").hidden = false;
  }
}

function logout(): void {
  sessionStorage.removeItem(TOKEN_KEY);
  live?.abort();
  live = null;
  runId = null;
  document.body.dataset.role = "";
  $("app").hidden = true;
  $("logout").hidden = true;
  $("run-select").hidden = true;
  $("who").textContent = "";
  $("login").hidden = false;
}

async function loadRuns(): Promise<void> {
  const runs = await api<RunListItem[]>("GET", "/api/runs?limit=50");
  const select = $<HTMLSelectElement>("run-select");
  replace(
    select,
    ...runs.map((r) => el("option", { value: r.id }, `${r.id} — ${r.plan}@${r.revision} (${r.state})`)),
  );
  select.hidden = runs.length === 0;
  if (runs[0]) await openRun(runs[0].id);
}

async function openRun(id: string): Promise<void> {
  runId = id;
  $<HTMLSelectElement>("run-select").value = id;
  timeline.length = 0;
  live?.abort();
  live = new AbortController();
  await refresh();
  void follow(id, onEvent, live.signal);
}

function onEvent(e: LiveEvent): void {
  if (e.runId !== runId) return;
  timeline.push(e);
  if (timeline.length > 500) timeline.splice(0, timeline.length - 500);
  renderTimeline();
  // Coalesce bursts of events into one refresh.
  if (refreshTimer === undefined)
    refreshTimer = window.setTimeout(() => {
      refreshTimer = undefined;
      void refresh();
    }, 150);
}

async function refresh(): Promise<void> {
  if (!runId) return;
  const id = runId;
  const [run, hosts] = await Promise.all([
    api<RunSummaryView>("GET", `/api/runs/${encodeURIComponent(id)}`),
    api<HostView[]>("GET", `/api/runs/${encodeURIComponent(id)}/hosts`),
  ]);
  if (id !== runId) return;
  const option = $<HTMLSelectElement>("run-select").selectedOptions[0];
  if (option) option.textContent = `${run.id} — ${run.plan}@${run.revision} (${run.state})`;
  const badge = $("run-state");
  badge.textContent = run.state;
  badge.dataset.state = run.state;
  $("run-wave").textContent =
    `${run.plan}@${run.revision} · wave ${run.currentWave + 1}${run.reason ? ` · ${run.reason}` : ""}`;
  renderControls(run);
  renderGrid(hosts);
  renderSteps(run);
  renderFailures(run, hosts);
}

function actionButton(label: string, action: string, path: string, needs: Role): HTMLButtonElement | null {
  if (!allows(needs)) return null;
  const b = el("button", { type: "button", "data-action": action }, label);
  b.addEventListener("click", async () => {
    $("action-error").textContent = "";
    try {
      await api("POST", path, {});
      await refresh();
    } catch (err) {
      showError("action-error", err);
    }
  });
  return b;
}

function renderControls(run: RunSummaryView): void {
  const base = `/api/runs/${encodeURIComponent(run.id)}`;
  const buttons = [
    run.state === "running" ? actionButton("Pause", "pause", `${base}/pause`, "operator") : null,
    run.state === "paused" || run.state === "halting"
      ? actionButton("Resume", "resume", `${base}/resume`, "operator")
      : null,
    ["running", "paused", "halting"].includes(run.state)
      ? actionButton("Abort", "abort", `${base}/abort`, "admin")
      : null,
  ].filter((b): b is HTMLButtonElement => b !== null);
  replace($("controls"), ...buttons);
}

function renderGrid(hosts: HostView[]): void {
  const regions = new Map<string, HostView[]>();
  for (const h of hosts) regions.set(h.region, [...(regions.get(h.region) ?? []), h]);
  const columns = [...regions.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([region, list]) =>
      el(
        "div",
        { class: "region", "data-region": region },
        el("h3", {}, `${region} (${list.length})`),
        ...list.map((h) => {
          const cell = el(
            "button",
            {
              type: "button",
              class: "host",
              "data-host": h.host,
              "data-stage": h.stage,
              "data-state": h.state,
              title: `${h.host}: ${h.stage}${h.reason ? ` — ${h.reason}` : ""}`,
              style: `background:${stageColor(h.stage)}`,
            },
            el("span", { class: "name" }, h.host),
            el("span", { class: "stage" }, h.stage),
          );
          cell.addEventListener("click", () => void showHost(h.host));
          return cell;
        }),
      ),
    );
  replace($("grid"), ...columns);
}

function renderSteps(run: RunSummaryView): void {
  const nodes: Node[] = [];
  run.steps.forEach((s, i) => {
    if (i > 0) nodes.push(el("span", { class: "arrow" }, "→"));
    nodes.push(
      el(
        "div",
        { class: `step${s.pointOfNoReturn ? " pnr" : ""}`, "data-step": s.name },
        el("strong", {}, s.name),
        el(
          "small",
          {},
          `${s.kind} · ${s.attempts} attempt(s)${s.hasRevert ? " · revert" : ""}${s.pointOfNoReturn ? " · point of no return" : ""}`,
        ),
      ),
    );
  });
  replace($("steps"), ...nodes);
}

function renderFailures(run: RunSummaryView, hosts: HostView[]): void {
  if (run.failures.length === 0) {
    replace($("failures"), el("p", { class: "muted" }, "none"));
    return;
  }
  const base = `/api/runs/${encodeURIComponent(run.id)}/hosts`;
  replace(
    $("failures"),
    el(
      "ul",
      {},
      ...run.failures.map((f) => {
        const h = hosts.find((x) => x.host === f.host);
        const link = el("button", { type: "button", class: "link" }, f.host);
        link.addEventListener("click", () => void showHost(f.host));
        return el(
          "li",
          { "data-failure": f.host },
          link,
          ` ${f.state}${f.step ? ` at ${f.step}` : ""}: ${f.reason ?? ""} `,
          // A simulated run is never driven again: no retry (the server refuses it too).
          h && run.options.simulated !== true
            ? actionButton("Retry", "retry", `${base}/${encodeURIComponent(f.host)}/retry`, "operator")
            : null,
          h ? actionButton("Skip", "skip", `${base}/${encodeURIComponent(f.host)}/skip`, "operator") : null,
        );
      }),
    ),
  );
}

interface Attempt {
  seq: number;
  step: string;
  phase: string;
  number: number;
  state: string;
  result: Record<string, unknown> | null;
}
interface Runbook {
  address: string;
  bmc: string | null;
  backup: string | null;
  lastPointOfNoReturn: string | null;
  steps: {
    name: string;
    kind: string;
    run: string | null;
    check: string | null;
    revert: string | null;
    done: boolean;
  }[];
  operatorActions: { retry: string; skip: string };
}

async function showHost(host: string): Promise<void> {
  if (!runId) return;
  const base = `/api/runs/${encodeURIComponent(runId)}/hosts/${encodeURIComponent(host)}`;
  const [detail, book] = await Promise.all([
    api<Omit<HostView, "attempts"> & { attempts: Attempt[] }>("GET", base),
    api<Runbook>("GET", `${base}/runbook`),
  ]);
  const output = (a: Attempt) => {
    const r = a.result ?? {};
    const text = ["reason", "stdout", "stderr", "output"]
      .map((k) => r[k])
      .filter((v) => typeof v === "string")
      .join("\n");
    return text ? el("pre", {}, text) : null;
  };
  replace(
    $("host-detail"),
    el("h2", {}, `Host ${host}`),
    el("p", {}, `${detail.state} · ${detail.stage}${detail.reason ? ` · ${detail.reason}` : ""}`),
    el("h3", {}, "Attempts"),
    el(
      "ol",
      {},
      ...detail.attempts.map((a) =>
        el(
          "li",
          { "data-attempt": String(a.seq) },
          `${a.step} (${a.phase} #${a.number}): ${a.state}`,
          output(a),
        ),
      ),
    ),
    el("h3", {}, "Runbook"),
    el(
      "dl",
      { class: "runbook" },
      el("dt", {}, "address"),
      el("dd", {}, book.address),
      el("dt", {}, "BMC"),
      el("dd", {}, book.bmc ?? "-"),
      el("dt", {}, "backup"),
      el("dd", {}, book.backup ?? "-"),
      el("dt", {}, "last point of no return"),
      el("dd", {}, book.lastPointOfNoReturn ?? "-"),
    ),
    el(
      "table",
      {},
      el(
        "tr",
        {},
        el("th", {}, "step"),
        el("th", {}, "run"),
        el("th", {}, "check"),
        el("th", {}, "revert"),
        el("th", {}, "done"),
      ),
      ...book.steps.map((s) =>
        el(
          "tr",
          {},
          el("td", {}, `${s.name} (${s.kind})`),
          el("td", {}, el("code", {}, s.run ?? "-")),
          el("td", {}, el("code", {}, s.check ?? "-")),
          el("td", {}, el("code", {}, s.revert ?? "-")),
          el("td", {}, s.done ? "✓" : ""),
        ),
      ),
    ),
    el("p", {}, el("code", {}, book.operatorActions.retry), " · ", el("code", {}, book.operatorActions.skip)),
  );
}

function renderTimeline(): void {
  const items = timeline
    .slice(-200)
    .reverse()
    .map((e) =>
      el(
        "li",
        { "data-type": e.type },
        el("time", {}, new Date(e.at).toISOString().slice(11, 23)),
        ` ${e.host ?? "run"} `,
        el("strong", {}, e.type),
        typeof e.data.step === "string" ? ` ${e.data.step}` : "",
        typeof e.data.reason === "string" ? ` — ${e.data.reason}` : "",
      ),
    );
  replace($("timeline"), ...items);
}

$("login").addEventListener("submit", (ev) => {
  ev.preventDefault();
  $("login-error").textContent = "";
  void login($<HTMLInputElement>("token").value.trim());
});
$("logout").addEventListener("click", logout);
$<HTMLSelectElement>("run-select").addEventListener("change", (ev) => {
  void openRun((ev.target as HTMLSelectElement).value);
});

const saved = token();
if (saved) void login(saved);
else $("login").hidden = false;
