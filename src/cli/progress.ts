/**
 * Live progress of a run, as an EventSink: hosts by stage, the current wave, failures with reasons,
 * and the run's own state when it is not simply running (paused at a gate or by someone, halting,
 * aborting), with who did it and why.
 *
 * On a terminal it redraws one compact block a few times a second; otherwise (CI logs, pipes) it
 * prints one line per significant event. It never throws into the engine.
 *
 * Invariants:
 * - The run's state follows the `run.STATE` events, whoever wrote them (this coordinator, or an
 *   operator / another coordinator as the coordinator reads them from the run's log and hands them
 *   to `EventSink.observe`), starting from the state it was given; a block drawn while the run is
 *   not running says so on its first line. An operator's retry or skip takes the host's failure
 *   off the block.
 * - While the coordinator waits to take the run over from another one, the block's first line says
 *   whom it waits for and how long; the line goes once it holds hosts (or stops).
 * - A redraw moves the cursor up over every row the last block took, lines the terminal wrapped
 *   included, so it never leaves parts of an old block behind.
 */
import { type HostState, RUN_STATES, type RunState } from "../core/flow/states.js";
import { visible } from "../core/output/visible.js";
import type { EventSink } from "../ports/events.js";
import type { EventRecord } from "../ports/store.js";
import { type Out, paint, stateColor } from "./output.js";

type Ev = EventRecord | Omit<EventRecord, "seq">;

const HOST_EVENT_STATE: Record<string, HostState> = {
  "host.started": "running",
  "host.reverting": "reverting",
  "host.succeeded": "succeeded",
  "host.failed": "failed",
  "host.in_doubt": "in_doubt",
  "host.aborted": "aborted",
  "host.skipped": "skipped",
};

const LINE_EVENTS = new Set([
  "host.started",
  "host.succeeded",
  "host.failed",
  "host.in_doubt",
  "host.reverting",
  "host.aborted",
  "host.skipped",
  "host.retried",
  "gate.approved",
  "attempt.failed",
  "attempt.unknown",
  "step.confirmed",
  "wave.started",
  "run.paused",
  "run.running",
  "run.halting",
  "run.aborting",
  "lease.acquired",
  "takeover.waiting",
  "lease.renewal-failed",
  "attempt.still-running",
]);

/** The run as the block shows it: its state, and who put it there and why (`describeRun`). */
export interface RunStatus {
  state: RunState;
  reason?: string | null;
}

export class Progress implements EventSink {
  private readonly state = new Map<string, HostState>();
  private readonly step = new Map<string, string>();
  private wave = 0;
  private failures: { host: string; reason: string }[] = [];
  private run: { state: RunState | undefined; detail: string };
  /** What this coordinator waits for before it can drive the run (`takeover.waiting`), until it can. */
  private waiting: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Terminal rows the last block took. */
  private drawn = 0;
  private readonly tty: boolean;

  constructor(
    private readonly out: Out,
    hosts: { host: string; state: HostState }[],
    private readonly t0: number,
    private readonly quiet = false,
    run?: RunStatus,
  ) {
    for (const h of hosts) this.state.set(h.host, h.state);
    this.run = { state: run?.state, detail: run?.reason ? ` — ${visible(run.reason)}` : "" };
    this.tty = process.stderr.isTTY === true && !quiet;
    if (this.tty) {
      this.timer = setInterval(() => this.draw(), 250);
      this.timer.unref();
    }
  }

  emit(e: Ev): void {
    try {
      this.apply(e);
      if (!this.tty && !this.quiet && LINE_EVENTS.has(e.type)) this.line(e);
    } catch {
      // progress must never disturb the run
    }
  }

  private apply(e: Ev): void {
    const s = HOST_EVENT_STATE[e.type] ?? retriedState(e);
    if (s && e.host) this.state.set(e.host, s);
    if (e.type === "attempt.started" && e.host) this.step.set(e.host, String(e.data.step));
    if (e.type === "wave.started") this.wave = Number(e.data.wave);
    if ((e.type === "host.failed" || e.type === "host.in_doubt") && e.host) {
      this.failures.push({ host: e.host, reason: visible(String(e.data.reason)) });
    }
    // An operator dealt with the host (retry, skip): its failure is no longer one to look at.
    if ((e.type === "host.retried" || e.type === "host.skipped") && e.host) {
      this.failures = this.failures.filter((f) => f.host !== e.host);
    }
    const run = runStateOf(e);
    if (run !== undefined) this.run = { state: run, detail: describeRun(e) };
    if (e.type === "takeover.waiting") this.waiting = describeWait(e);
    if (e.type === "lease.acquired" || e.type === "coordinator.started") this.waiting = undefined;
  }

  private elapsed(at: number): string {
    const s = Math.max(0, Math.round((at - this.t0) / 1000));
    const two = (n: number) => String(n).padStart(2, "0");
    const mmss = `${two(Math.floor(s / 60) % 60)}:${two(s % 60)}`;
    return s >= 3600 ? `${Math.floor(s / 3600)}:${mmss}` : mmss;
  }

  private line(e: Ev): void {
    const who = e.host ? `${paint(this.out, "bold", e.host)} ` : "";
    const d = e.data;
    // A reason often quotes a host's output: shown, not obeyed.
    const why = visible(String(d.reason));
    let text: string = e.type;
    switch (e.type) {
      case "host.started":
        text = `started (wave ${Number(d.wave) + 1})`;
        break;
      case "host.succeeded":
        text = paint(this.out, "green", "succeeded");
        break;
      case "host.failed":
        text = `${paint(this.out, "red", "FAILED")}: ${why}`;
        break;
      case "host.in_doubt":
        text = `${paint(this.out, "magenta", "IN DOUBT")}: ${why}`;
        break;
      case "host.reverting":
        text = `${paint(this.out, "magenta", "reverting")}: ${why}`;
        break;
      case "attempt.failed":
        text = `step ${String(d.step)} attempt ${String(d.attempt)} failed: ${why}${d.retryInMs !== undefined ? ` (retry in ${Math.round(Number(d.retryInMs) / 1000)}s)` : ""}`;
        break;
      case "attempt.unknown":
        text = `step ${String(d.step)} attempt ${String(d.attempt)} outcome unknown (${why}); resolution: ${String(d.resolution)}`;
        break;
      case "step.confirmed":
        text = `step ${String(d.step)} confirmed done by ${String(d.by)}`;
        break;
      case "wave.started":
        text = `wave ${Number(d.wave) + 1} started`;
        break;
      case "host.skipped":
        text = `skipped by ${e.actor}`;
        break;
      case "host.retried":
        text = `retried by ${e.actor} (it was ${String(d.from)})`;
        break;
      case "gate.approved":
        text = `gate "${String(d.step)}" approved by ${e.actor}`;
        break;
      case "run.running":
        text =
          d.action === "resume"
            ? `run running again (resumed by ${e.actor})`
            : d.action === "retry"
              ? `run running again (${e.actor} retried ${String(d.host)})`
              : "run running again";
        break;
      case "run.paused":
      case "run.halting":
      case "run.aborting": {
        const state = runStateOf(e) as RunState;
        text = `run ${paint(this.out, stateColor(state), state.toUpperCase())}${describeRun(e)}`;
        break;
      }
      case "takeover.waiting":
        text = `waiting: ${describeWait(e)}`;
        break;
      case "lease.acquired":
        text = `coordinator ${String(d.owner)} holds ${String(d.hosts)} host(s)`;
        break;
      case "lease.renewal-failed":
        text = `could not renew the leases (${String(d.error)}); retrying; no new step starts after ${new Date(Number(d.validUntil)).toISOString()} until a renewal succeeds`;
        break;
      case "attempt.still-running":
        text = `step ${String(d.step)} attempt ${String(d.attempt)}: its command still runs on the host; waiting for it to end (up to ${Math.round(Number(d.waitingUpToMs) / 1000)}s) before checking or running it again`;
        break;
      default:
        text = `${e.type}${d.reason ? `: ${why}` : ""}`;
    }
    this.out.err(`${paint(this.out, "gray", this.elapsed(e.at))} ${who}${text}\n`);
  }

  counts(): Map<HostState, number> {
    const c = new Map<HostState, number>();
    for (const s of this.state.values()) c.set(s, (c.get(s) ?? 0) + 1);
    return c;
  }

  /** The block drawn on a terminal, one string per line. */
  private lines(): string[] {
    const c = this.counts();
    const order: HostState[] = [
      "pending",
      "running",
      "reverting",
      "succeeded",
      "failed",
      "in_doubt",
      "skipped",
      "aborted",
    ];
    const parts = order
      .filter((s) => c.get(s))
      .map((s) => paint(this.out, stateColor(s), `${s} ${c.get(s)}`));
    const running = [...this.state.entries()]
      .filter(([, s]) => s === "running" || s === "reverting")
      .slice(0, 6);
    const run = this.run.state;
    return [
      ...(this.waiting !== undefined ? [`${paint(this.out, "yellow", "WAITING")} — ${this.waiting}`] : []),
      ...(run !== undefined && run !== "running"
        ? [`${paint(this.out, stateColor(run), run.toUpperCase())}${this.run.detail}`]
        : []),
      `${paint(this.out, "bold", `wave ${this.wave + 1}`)}  ${parts.join("  ")}  ${paint(this.out, "gray", `(${this.state.size} hosts)`)}`,
      ...running.map(([h]) => `  ${h}: ${this.step.get(h) ?? "…"}`),
      ...this.failures.slice(-3).map((f) => `  ${paint(this.out, "red", "✗")} ${f.host}: ${f.reason}`),
    ];
  }

  private draw(): void {
    const lines = this.lines();
    let s = "";
    if (this.drawn > 0) s += `\u001b[${this.drawn}A\u001b[J`;
    s += `${lines.join("\n")}\n`;
    const cols = process.stderr.columns;
    this.drawn = lines.reduce((n, l) => n + rows(l, cols), 0);
    this.out.err(s);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    // Whatever came of a wait, it is over (the outcome is printed next).
    this.waiting = undefined;
    if (this.tty) this.draw();
  }
}

/** The run state a `run.STATE` event moves the run to (none for `run.created`). */
function runStateOf(e: Ev): RunState | undefined {
  const to = e.type.startsWith("run.") ? e.type.slice(4) : "";
  return (RUN_STATES as readonly string[]).includes(to) ? (to as RunState) : undefined;
}

/**
 * Who put the run where it is and why, as ` by ACTOR — REASON`: an operator's action (its event
 * says which) names the operator, and the reason when one was given; the engine's own moves (a
 * gate, the failure budget) give only their reason.
 */
function describeRun(e: Ev): string {
  const reason = typeof e.data.reason === "string" && e.data.reason !== "" ? e.data.reason : undefined;
  const action = typeof e.data.action === "string" ? e.data.action : undefined;
  if (action === undefined) return reason ? ` — ${visible(reason)}` : "";
  return reason ? ` by ${e.actor} — ${visible(reason)}` : ` by ${e.actor}`;
}

/**
 * What a coordinator that cannot drive the run yet waits for: who holds the run's hosts, until
 * when (unless renewed), and how long it waits to take over before it leaves the run to them.
 */
function describeWait(e: Ev): string {
  const holders = Array.isArray(e.data.holders) ? e.data.holders.map(String) : [];
  const who =
    holders.length === 0
      ? "another coordinator"
      : `coordinator${holders.length > 1 ? "s" : ""} ${holders.join(", ")}`;
  const heldUntil = Number(e.data.heldUntil);
  const until = heldUntil > 0 ? ` until ${new Date(heldUntil).toISOString().slice(11, 19)}Z` : "";
  const secs = Math.max(0, Math.ceil((Number(e.data.giveUpAt) - e.at) / 1000));
  return `run held by ${who}${until}; waiting up to ${secs} s to take over (Ctrl-C is safe: this one holds nothing yet)`;
}

/** An operator's retry: a failed host waits to start again; an in-doubt one re-runs its step. */
function retriedState(e: Ev): HostState | undefined {
  if (e.type !== "host.retried") return undefined;
  return e.data.from === "failed" ? "pending" : "running";
}

/** Terminal rows a line takes (one, or more when longer than the terminal is wide). */
function rows(line: string, columns: number | undefined): number {
  if (!columns || columns <= 0) return 1;
  // Colours take no room on the screen.
  const width = [...line.replace(/\u001b\[[0-9;]*m/g, "")].length;
  return Math.max(1, Math.ceil(width / columns));
}
