/**
 * `run`, `resume`, `status`, `pause`, `abort`, `retry`, `skip` against `overhaul serve`
 * (`--server URL`): the same output and exit codes as the local commands in run.ts and
 * control.ts. The service's own coordinator drives the run; these commands create, act and watch.
 * A flag they cannot honour through the service (`refuseLocalOnly`) is refused before anything is
 * sent, never dropped.
 */
import { setMaxListeners } from "node:events";
import { InputError, OverhaulError } from "../../core/errors.js";
import type { RunWithHost } from "../../core/flow/host-run.js";
import type { HostState, RunState } from "../../core/flow/states.js";
import { type HostAction, type RunAction, runIdForHost } from "../../engine/runs.js";
import { readUserFile } from "../compose.js";
import { EXIT } from "../exit-codes.js";
import { makeOut, paint, stateColor, table } from "../output.js";
import { Progress } from "../progress.js";
import { call, followRun, type Remote, remoteRunId } from "../remote.js";
import { type RunSummary, renderSummary } from "../summary.js";
import { type HostActionOutcome, writeHostAction } from "./control.js";

interface Common {
  json?: boolean;
  noColor?: boolean;
}

interface RunView {
  id: string;
  plan: string;
  revision: number;
  state: string;
  createdAt: string;
  reason: string | null;
}

/**
 * The flags a command through a server cannot honour, and why: the server's coordinator drives
 * the run with its own database, inventory, leases and SSH settings, and POST /api/runs creates
 * a run from a scope and a seed only (no planner schedule, no windows). `serve` is where the
 * server's own setting is, when it has one.
 */
const SCHEDULE = "the server starts a run's hosts in inventory order, without the planner's schedule";
const LOCAL_ONLY: Record<string, { why: string; serve?: string }> = {
  "--db": { why: "the server's own database is used" },
  "--inventory": { why: "the server scopes a run against its own inventory", serve: "-i INVENTORY" },
  "--schedule": { why: SCHEDULE },
  "--order": { why: SCHEDULE },
  "--lease-ttl": { why: "the server's coordinator holds the run with its own leases", serve: "--lease-ttl" },
  ...Object.fromEntries(
    ["--ssh-known-hosts", "--ssh-host-key-checking", "--ssh-config"].map((f) => [
      f,
      { why: "the server's coordinator reaches the hosts with its own SSH settings", serve: f },
    ]),
  ),
  ...Object.fromEntries(
    ["--history", "--window", "--allowed-hours", "--blackout", "--from", "--days", "--region-label"].map(
      (f) => [f, { why: "windows are chosen by a local run only" }],
    ),
  ),
};

/**
 * Refuses, before anything is sent, every given flag (`flags`: long names) that `overhaul
 * COMMAND` through a server would otherwise drop; each is named, with the local command that
 * takes it and the server's own setting, if there is one.
 */
export function refuseLocalOnly(r: Remote, command: string, flags: readonly string[]): void {
  const local = `overhaul ${command} ${r.via === "--server" ? "without --server" : "with OVERHAUL_SERVER unset"}, on the database`;
  const problems = flags.flatMap((flag) => {
    const f = LOCAL_ONLY[flag];
    if (f === undefined) return [];
    const serve = f.serve !== undefined ? `; the server's is \`overhaul serve ${f.serve}\`` : "";
    return [
      {
        path: flag,
        message: `is not taken through a server (${r.via}): ${f.why}`,
        expected: `${local}${serve}`,
      },
    ];
  });
  if (problems.length > 0) throw new InputError(problems);
}

const summaryOf = (r: Remote, id: string) =>
  call<RunSummary>(r, "GET", `/api/runs/${encodeURIComponent(id)}/summary`);

export async function remoteStatus(
  r: Remote,
  runId: string | undefined,
  opts: Common & { hosts?: boolean; runs?: boolean },
): Promise<number> {
  const out = makeOut({ noColor: opts.noColor });
  if (opts.runs) {
    const runs = await call<RunView[]>(r, "GET", "/api/runs?limit=50");
    if (opts.json) {
      const rows = runs.map((x) => ({
        id: x.id,
        plan: x.plan,
        revision: x.revision,
        state: x.state,
        createdAt: x.createdAt,
        reason: x.reason,
      }));
      out.write(`${JSON.stringify(rows, null, 2)}\n`);
    } else {
      const rows = [["RUN", "STATE", "PLAN", "CREATED", "REASON"]];
      for (const x of runs)
        rows.push([
          x.id,
          paint(out, stateColor(x.state), x.state),
          `${x.plan}@${x.revision}`,
          x.createdAt,
          x.reason ?? "",
        ]);
      out.write(`${table(rows, out)}\n`);
    }
    return EXIT.ok;
  }
  const s = await summaryOf(r, await remoteRunId(r, runId));
  if (opts.json) out.write(`${JSON.stringify(s, null, 2)}\n`);
  else out.write(renderSummary(out, s, { hosts: opts.hosts ?? s.hosts.length <= 40 }));
  return EXIT.ok;
}

export async function remoteRunAction(
  r: Remote,
  action: RunAction,
  runId: string | undefined,
  opts: Common & { reason?: string },
): Promise<number> {
  const out = makeOut({ noColor: opts.noColor });
  const id = await remoteRunId(r, runId);
  const a = await call<{ run: string; from: string; state: string }>(
    r,
    "POST",
    `/api/runs/${encodeURIComponent(id)}/${action}`,
    opts.reason !== undefined ? { reason: opts.reason } : {},
  );
  if (opts.json) out.write(`${JSON.stringify({ run: a.run, state: a.state })}\n`);
  else out.write(`run ${a.run}: ${a.from} -> ${a.state}\n`);
  return EXIT.ok;
}

export async function remoteHostAction(
  r: Remote,
  action: HostAction,
  host: string,
  opts: Common & { run?: string },
): Promise<number> {
  const out = makeOut({ noColor: opts.noColor });
  // Without --run: the run that has the host, refused when it waits in more than one (as locally).
  const id =
    opts.run ??
    runIdForHost(host, await call<RunWithHost[]>(r, "GET", `/api/hosts/${encodeURIComponent(host)}/runs`));
  const h = await call<{ run: string; host: string; state: string } & HostActionOutcome>(
    r,
    "POST",
    `/api/runs/${encodeURIComponent(id)}/hosts/${encodeURIComponent(host)}/${action}`,
  );
  writeHostAction(out, opts.json, action, h.run, host, h.state, h);
  return EXIT.ok;
}

interface RemoteRunOptions extends Common {
  limit?: string;
  all?: boolean;
  confirm?: number;
  maxHosts: number;
  seed?: number;
  quiet?: boolean;
}

/** `overhaul run PLAN --server URL`: store the plan text as a revision, start the run, watch it. */
export async function remoteRun(r: Remote, planFile: string, opts: RemoteRunOptions): Promise<number> {
  const out = makeOut({ noColor: opts.noColor });
  const body = await readUserFile(planFile, "plan");
  const rev = await call<{ name: string; revision: number }>(r, "POST", "/api/plans", { body });
  const run = await call<{ id: string; plan: string; revision: number }>(r, "POST", "/api/runs", {
    plan: rev.name,
    revision: rev.revision,
    maxHosts: opts.maxHosts,
    ...(opts.limit !== undefined ? { limit: opts.limit } : {}),
    ...(opts.all ? { all: true } : {}),
    ...(opts.confirm !== undefined ? { confirm: opts.confirm } : {}),
    ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
  });
  const s = await summaryOf(r, run.id);
  if (!opts.json) {
    out.err(
      `run ${run.id}: plan ${run.plan}@${run.revision} on ${s.hosts.length} host(s), driven by ${r.url}\n`,
    );
  }
  return watch(r, run.id, opts);
}

/** `overhaul resume RUN --server URL`: resume a paused or halted run on the server and watch it. */
export async function remoteResume(
  r: Remote,
  runId: string | undefined,
  opts: Common & { quiet?: boolean; detach?: boolean },
): Promise<number> {
  const out = makeOut({ noColor: opts.noColor });
  const id = await remoteRunId(r, runId);
  const s = await summaryOf(r, id);
  let state = s.run.state;
  // Running: nothing to set. Aborting or halting without --detach: watch the service finish the
  // abort, or the hosts in flight (a retry or skip that brings the failures back within the budget
  // has set it running already); succeeded or aborted: show it. Anything else is the server's to
  // resume, or to refuse when the run cannot go on: --detach says so (exit 2); without it the run
  // is shown, as locally.
  const watchOnly =
    !opts.detach &&
    (state === "aborting" || state === "halting" || state === "succeeded" || state === "aborted");
  if (state !== "running" && !watchOnly) {
    try {
      const a = await call<{ from: string; state: string }>(
        r,
        "POST",
        `/api/runs/${encodeURIComponent(id)}/resume`,
        {},
      );
      state = a.state;
      if (a.from !== a.state && !opts.json) out.err(`run ${id} resumed\n`);
    } catch (e) {
      const refused = e instanceof OverhaulError && e.name === "OverhaulError";
      if (opts.detach || !refused) throw e;
    }
  }
  if (opts.detach) {
    if (opts.json) out.write(`${JSON.stringify({ run: id, state })}\n`);
    return EXIT.ok;
  }
  return watch(r, id, opts);
}

async function watch(r: Remote, runId: string, opts: Common & { quiet?: boolean }): Promise<number> {
  const out = makeOut({ noColor: opts.noColor });
  const before = await summaryOf(r, runId);
  const progress = new Progress(
    out,
    before.hosts.map((h) => ({ host: h.host, state: h.state as HostState })),
    Date.parse(before.run.createdAt),
    opts.json === true || opts.quiet === true,
    { state: before.run.state as RunState, reason: before.run.reason },
  );
  const ac = new AbortController();
  setMaxListeners(0, ac.signal);
  const onSignal = () => {
    out.err(
      `\ndetached from run ${runId}: the server keeps driving it; watch again with \`overhaul resume ${runId}\`\n`,
    );
    ac.abort(new Error("interrupted"));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  let finished: boolean;
  try {
    finished = await followRun(r, runId, (e) => progress.emit(e), ac.signal);
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    progress.stop();
  }
  const s = await summaryOf(r, runId);
  const outcome = finished ? "finished" : "detached";
  if (opts.json) out.write(`${JSON.stringify({ outcome, ...s }, null, 2)}\n`);
  else out.write(renderSummary(out, s));
  if (!finished) return 130;
  if (s.run.state === "succeeded") return EXIT.ok;
  if (s.run.state === "failed" || s.run.state === "aborted") return EXIT.runFailed;
  return EXIT.ok;
}
