/**
 * `overhaul run` and `overhaul resume`: create a run (or pick one up) and drive it to its end with
 * live progress. Ctrl-C detaches: the run stays in the database and `overhaul resume` continues it.
 * Hosts are reached by their connection (local or SSH, cli/transport.ts); SSH settings are checked
 * before the run is created, and secret variables are never stored with it.
 */

import { randomInt } from "node:crypto";
import { setMaxListeners } from "node:events";
import { resolve } from "node:path";
import { randomSource, systemClock } from "../../adapters/clock/system-clock.js";
import { loadInventory } from "../../adapters/inventory-files/index.js";
import { InputError, SafetyRefusal } from "../../core/errors.js";
import { checkUtcOffsets } from "../../core/model/utc-offset.js";
import type { Plan } from "../../core/plan/compile.js";
import { parseDuration } from "../../core/plan/duration.js";
import { WORKLOAD_STEP_KINDS } from "../../core/plan/schema.js";
import { runScheduleOf } from "../../core/planner/run-schedule.js";
import { Coordinator, type DriveResult } from "../../engine/coordinator.js";
import { DEFAULT_COORDINATOR_OPTIONS, nullNotifier } from "../../engine/deps.js";
import { shownPlanOf } from "../../engine/plan-of-run.js";
import { createRun, requireRun, resumeRun } from "../../engine/runs.js";
import type { EventSink } from "../../ports/events.js";
import type { Store } from "../../ports/store.js";
import { coordinatorId, loadPlanFile, openStore, operatorName } from "../compose.js";
import { createEventLog } from "../event-log.js";
import { EXIT } from "../exit-codes.js";
import { makeOut, type Out, warnAll } from "../output.js";
import { parseOrder, scheduleFor } from "../planning.js";
import { Progress } from "../progress.js";
import { secretsForResume, storedSsh, warnSshFlags } from "../resume-secrets.js";
import { resolveScope } from "../scope.js";
import { renderSummary, summarize } from "../summary.js";
import {
  anchorKeyFiles,
  checkHosts,
  createRunTransport,
  type HostSecrets,
  type SshFlags,
  secretNames,
  splitSecrets,
  sshOptions,
} from "../transport.js";
import { checkWindowFlags, chooseWindows, plannerWindows, type WindowFlags } from "../windows.js";

/** With `schedule`, the window flags (`--history` ...): each region's window is chosen; the run waits for it. */
export interface RunOptions extends SshFlags, Partial<WindowFlags> {
  inventory: string;
  limit?: string;
  all?: boolean;
  confirm?: number;
  maxHosts: number;
  seed?: number;
  leaseTtl: string;
  json?: boolean;
  quiet?: boolean;
  db?: string;
  noColor?: boolean;
  /** Follow the planner's schedule (order, waves, caps), in this order policy. */
  schedule?: boolean;
  order?: string;
}

export function leaseTtlMs(text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined || ms < 1000) {
    throw new InputError({
      path: "--lease-ttl",
      message: `"${text}" is not a lease time`,
      expected: "a duration of at least 1s, e.g. 30s",
    });
  }
  return ms;
}

/**
 * Real runs have no workloads manager yet (hypervisor / scheduler adapters come later): refuse a
 * plan that drains or reinstates before touching any host, and point at the dry run.
 */
function refuseWorkloadSteps(planFile: string, plan: Plan): void {
  const steps = plan.steps.filter((s) => WORKLOAD_STEP_KINDS.includes(s.kind));
  if (steps.length === 0) return;
  throw new InputError(
    steps.map((s) => ({
      file: planFile,
      path: `steps[${s.index}].kind`,
      message: `step "${s.name}" (${s.kind}) moves workloads, which real runs cannot do yet`,
      expected: "dry-run this plan with `overhaul simulate`, or use command steps for real runs",
    })),
  );
}

export async function runCommand(planFile: string, opts: RunOptions): Promise<number> {
  const out = makeOut({ noColor: opts.noColor });
  checkWindowFlags(opts, "with-history");
  const loaded = await loadPlanFile(planFile);
  const inv = await loadInventory(opts.inventory);
  warnAll(out, inv.warnings);
  const hosts = resolveScope(inv, loaded.plan.hosts, {
    limit: opts.limit,
    all: opts.all,
    confirm: opts.confirm,
    maxHosts: opts.maxHosts,
    planFile,
    hostsAt: loaded.hostsAt,
  });
  // Settings that cannot work stop the run before it exists, not at the host that needs them.
  await checkHosts(hosts, opts, opts.inventory);
  // A schedule reads each region's clock (estimates, windows).
  if (opts.schedule) checkUtcOffsets(hosts, opts.inventory);
  // Passwords stay in memory: the hosts stored with the run carry no secret variables. Relative
  // key files are stored absolute, so that a resume from another directory reads the same keys.
  const split = splitSecrets(hosts);
  const stored = anchorKeyFiles(split.hosts, process.cwd());
  const secrets = split.secrets;
  refuseWorkloadSteps(planFile, loaded.plan);
  const ttl = leaseTtlMs(opts.leaseTtl);
  const store = await openStore(opts.db);
  try {
    const clock = systemClock();
    const random = randomSource(opts.seed ?? randomInt(2 ** 31));
    // Windows are searched from now on (never in the past); each region's hosts wait for its own.
    const windows =
      opts.history !== undefined
        ? plannerWindows(
            (
              await chooseWindows(
                stored,
                { ...opts, history: opts.history },
                { at: clock.now(), what: "the run (now)" },
              )
            ).windows,
            clock.now(),
          )
        : undefined;
    // Real runs move no workloads (see above): the schedule orders the hosts and sets the waves
    // under every cap; its flow estimates use the planner's default model.
    const schedule = opts.schedule
      ? runScheduleOf(
          scheduleFor({
            loaded,
            fleet: { hosts: stored, workloads: [] },
            scope: stored,
            order: parseOrder(opts.order),
            seed: opts.seed ?? loaded.plan.seed ?? 1,
            startAt: clock.now(),
            ...(windows ?? {}),
          }),
        )
      : undefined;
    const run = await createRun(
      { store, clock, random },
      {
        plan: loaded.plan,
        planBody: loaded.body,
        planHash: loaded.hash,
        hosts: stored,
        actor: `operator:${operatorName()}`,
        ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
        ...(schedule !== undefined ? { schedule } : {}),
        // Paths absolute: `resume` may run from another directory. Which secret variables the
        // hosts had (names only) tells resume whether it must find the inventory again.
        options: {
          planFile: resolve(planFile),
          inventory: resolve(opts.inventory),
          secretVars: secretNames(secrets),
          ssh: storedSsh(opts),
          ...(opts.limit !== undefined ? { limit: opts.limit } : {}),
          ...(opts.all ? { all: true } : {}),
        },
      },
    );
    if (!opts.json) {
      out.err(
        `run ${run.id}: plan ${run.planName}@${run.planRevision} (${loaded.plan.steps.length} steps) on ${hosts.length} host(s)\n`,
      );
    }
    return await drive(store, run.id, ttl, out, opts, secrets);
  } finally {
    await store.close();
  }
}

export async function resumeCommand(
  runId: string | undefined,
  opts: Omit<RunOptions, "inventory" | "maxHosts"> & { detach?: boolean; inventory?: string },
): Promise<number> {
  const out = makeOut({ noColor: opts.noColor });
  const ttl = leaseTtlMs(opts.leaseTtl);
  sshOptions(opts); // bad --ssh-* flags fail before anything is touched
  const store = await openStore(opts.db, { existing: true });
  try {
    let run = await requireRun(store, runId);
    if (run.options.simulated === true) {
      throw new SafetyRefusal(
        "simulated-run",
        `run ${run.id} is a simulation (overhaul simulate / demo): it is never driven against real hosts; simulate the plan again instead`,
      );
    }
    // The secrets come from the inventory (never stored): found before the run is touched, or
    // refused with the path (cli/resume-secrets.ts). A run that is only shown needs none.
    const driven = !opts.detach && run.state !== "succeeded" && run.state !== "aborted";
    let secrets: HostSecrets = new Map();
    if (driven) {
      const names = (await store.getHosts(run.id)).map((h) => h.host);
      secrets = await secretsForResume(run, names, opts.inventory, out);
      warnSshFlags(run, opts, out);
    }
    // A paused run, or a halted or failed one that may go on, is set running; with --detach, one
    // that cannot go on is refused with what would let it (engine/runs.ts `resumeRun`); without
    // it, such a run is driven as it is (a finished one is only shown).
    const before = run.state;
    run = await resumeRun({ store, clock: systemClock() }, run, `operator:${operatorName()}`, {
      drive: !opts.detach,
    });
    if (run.state !== before && !opts.json) out.err(`run ${run.id} resumed\n`);
    if (opts.detach) {
      if (opts.json) out.write(`${JSON.stringify({ run: run.id, state: run.state })}\n`);
      return EXIT.ok;
    }
    return await drive(store, run.id, ttl, out, opts, secrets);
  } finally {
    await store.close();
  }
}

async function drive(
  store: Store,
  runId: string,
  ttlMs: number,
  out: Out,
  opts: SshFlags & { json?: boolean; quiet?: boolean; seed?: number },
  secrets: HostSecrets,
): Promise<number> {
  const clock = systemClock();
  const run = await store.getRun(runId);
  if (!run) throw new Error(`run ${runId} vanished`);
  const hosts = await store.getHosts(runId);
  const progress = new Progress(out, hosts, run.createdAt, opts.json === true || opts.quiet === true, run);
  const log = createEventLog(runId);
  const show = (e: Parameters<EventSink["emit"]>[0]) => {
    progress.emit(e);
    log.emit(e);
  };
  // Others' events too (an operator's pause from another shell), as the coordinator reads them.
  const sink: EventSink = { emit: show, observe: show };
  const transport = createRunTransport(opts, secrets);
  // First Ctrl-C / SIGTERM: start nothing new, let steps in flight finish, detach.
  // Second: stop at once; attempts in flight stay in doubt for `overhaul resume` to resolve.
  const ac = new AbortController();
  const drain = new AbortController();
  // One listener per step in flight: as many as the plan's concurrency, by design.
  setMaxListeners(0, ac.signal, drain.signal);
  const onSignal = () => {
    if (!drain.signal.aborted) {
      out.err(
        `\ndetaching from run ${runId}: letting steps in flight finish (Ctrl-C again to stop them now); continue with \`overhaul resume ${runId}\`\n`,
      );
      drain.abort(new Error("interrupted"));
    } else if (!ac.signal.aborted) {
      out.err(`stopping now: steps in flight are left in doubt for \`overhaul resume ${runId}\`\n`);
      ac.abort(new Error("interrupted twice"));
    }
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  let result: DriveResult;
  try {
    const coordinator = new Coordinator(
      {
        store,
        transport,
        clock,
        random: randomSource(run.seed ^ randomInt(2 ** 31)),
        sink,
        notifier: nullNotifier,
      },
      { ...DEFAULT_COORDINATOR_OPTIONS, owner: coordinatorId(), leaseTtlMs: ttlMs },
      runId,
      ac.signal,
      drain.signal,
    );
    result = await coordinator.drive();
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    progress.stop();
    await transport.close();
    await log.close();
  }
  const summary = await summarize(store, result.run, clock.now(), await shownPlanOf(store, result.run));
  if (opts.json) out.write(`${JSON.stringify({ outcome: result.outcome, ...summary }, null, 2)}\n`);
  else {
    if (result.outcome === "held-elsewhere")
      out.err(`run ${runId} is being driven by another coordinator; nothing to do here\n`);
    if (result.outcome === "deposed")
      out.err(`this coordinator lost its leases on run ${runId}; another one carries on\n`);
    out.write(renderSummary(out, summary));
  }
  if (result.outcome === "detached") return 130;
  if (result.run.state === "succeeded") return EXIT.ok;
  if (result.run.state === "failed" || result.run.state === "aborted") return EXIT.runFailed;
  return EXIT.ok;
}
