/**
 * One simulated run: the real engine (createRun + Coordinator, unchanged) against a simulated
 * world on a virtual clock, with the scenario's coordinator kills, then the invariant check.
 *
 * Invariants:
 * - Deterministic: the same plan, fleet, scenario and seed give the same events, ledger and report
 *   (virtual time only, seeded randomness only, fixed coordinator names).
 * - A coordinator kill is a SIGKILL, not a shutdown: from the kill on, that coordinator's store
 *   calls fail (it writes nothing more, releases no lease), and its in-flight work is abandoned.
 *   Each kill hits the coordinator running at its time, once; a kill at 0 s the first one, after
 *   what it does at that first instant; a kill while none runs (during a restart) hits nobody.
 *   A new coordinator starts on the same store after `restartDelayMs` and resumes from the
 *   database alone. The simulated world (hosts, workloads) does not restart.
 * - A manual gate is approved by a simulated operator `approveAfterMs` after it paused the run.
 * - Bounded: a run that has not ended after `maxVirtualMs` of virtual time (e.g.
 *   a retry loop that never ends) is stopped and reported as unfinished, never simulated forever;
 *   with windows, counted from the first window's opening. Its hosts still on their way are
 *   unfinished, not invariant violations, and its virtual time runs to where it was stopped.
 * - Windows: a schedule's window openings hold the regions' hosts (the coordinator's admission);
 *   nothing can start before the first opening, so the virtual clock jumps there (or to the first
 *   coordinator kill, if that comes sooner) before the first coordinator starts.
 */
import { setMaxListeners } from "node:events";
import type { VirtualClock } from "../../adapters/clock/virtual-clock.js";
import { SimWorld } from "../../adapters/simulator/index.js";
import { isTerminalRun } from "../../core/flow/states.js";
import type { Host, Workload } from "../../core/model/fleet.js";
import type { RunSchedule } from "../../core/planner/run-schedule.js";
import { seededRandom } from "../../core/policy/random.js";
import { checkInvariants, type InvariantReport } from "../../core/sim/invariants.js";
import type { LedgerEntry } from "../../core/sim/ledger.js";
import { coordinatorKills, type Scenario } from "../../core/sim/scenario.js";
import { Coordinator, type DriveResult } from "../../engine/coordinator.js";
import { nullNotifier } from "../../engine/deps.js";
import { createRun, runAction } from "../../engine/runs.js";
import type { EventSink } from "../../ports/events.js";
import type { AttemptRecord, EventRecord, HostFlowRecord, RunRecord, Store } from "../../ports/store.js";
import type { LoadedPlan } from "../compose.js";
import { killable } from "./killable-store.js";

export interface SimulationInput {
  loaded: LoadedPlan;
  /** Every host of the simulated world (hold-overs outside the scope still take workloads). */
  hosts: readonly Host[];
  /** The run's hosts, in order. */
  scope: readonly Host[];
  workloads: readonly Workload[];
  scenario: Scenario;
  store: Store;
  clock: VirtualClock;
  sink?: EventSink;
  /** The run's id (default: from virtual time and the seed). */
  runId?: string;
  /** A manual gate is approved this long (virtual ms) after it pauses the run; default 5 min. */
  approveAfterMs?: number;
  /** Follow the planner's schedule (order, waves, caps); default: the plan's waves in scope order. */
  schedule?: RunSchedule;
  /** Recorded with the run (where the fleet came from, the scenario file, ...). */
  options?: Record<string, unknown>;
  leaseTtlMs?: number;
  restartDelayMs?: number;
  maxVirtualMs?: number;
}

export interface SimulationResult {
  run: RunRecord;
  hosts: HostFlowRecord[];
  attempts: AttemptRecord[];
  events: EventRecord[];
  ledger: readonly LedgerEntry[];
  invariants: InvariantReport;
  /** How many coordinators drove the run (1 + kills that happened before the end). */
  coordinators: number;
  /** Virtual time from the start of the simulation to the end of the run (or to where it was stopped). */
  virtualMs: number;
  /** Set when the run did not end within `maxVirtualMs`. */
  unfinished?: string;
}

const DAY = 86_400_000;

export async function simulateRun(input: SimulationInput): Promise<SimulationResult> {
  const { store, clock, scenario, loaded } = input;
  const leaseTtlMs = input.leaseTtlMs ?? 30_000;
  const restartDelayMs = input.restartDelayMs ?? 10_000;
  const t0 = clock.now();
  const openings = Object.values(input.schedule?.opensAt ?? {});
  const firstOpening = openings.length > 0 ? Math.min(...openings) : t0;
  const maxVirtualMs = Math.max(0, firstOpening - t0) + (input.maxVirtualMs ?? 7 * DAY);
  const outer = input.sink ?? { emit() {} };
  const approveAfterMs = input.approveAfterMs ?? 300_000;
  const approvals: Promise<unknown>[] = [];
  // A manual gate has no operator in a simulation: one approves it `approveAfterMs` later.
  const sink: EventSink = {
    emit(e) {
      outer.emit(e);
      if (e.type !== "run.paused" || typeof e.data.gate !== "string") return;
      approvals.push(
        clock
          .sleep(approveAfterMs)
          .then(() => clock.track(store.getRun(e.runId)))
          .then((r) =>
            r?.state === "paused"
              ? clock.track(runAction({ store, clock }, r, "resume", "simulated operator"))
              : undefined,
          )
          .catch(() => undefined),
      );
    },
  };
  // The world knows the plan's own reboot and health commands (a reboot step's `run` reboots).
  const world = new SimWorld(clock, [...input.hosts], [...input.workloads], scenario, loaded.plan.steps);
  const run = await createRun(
    { store, clock, random: seededRandom(scenario.seed) },
    {
      plan: loaded.plan,
      planBody: loaded.body,
      planHash: loaded.hash,
      hosts: [...input.scope],
      actor: "simulator",
      seed: scenario.seed,
      ...(input.runId !== undefined ? { id: input.runId } : {}),
      ...(input.schedule !== undefined ? { schedule: input.schedule } : {}),
      options: { simulated: true, ...(input.options ?? {}) },
      // Its hosts are its own simulated world: runs of other simulations hold nothing of it.
      exclusive: false,
    },
  );

  const kills = coordinatorKills(scenario);
  // Every region waits for its window: nothing happens before the first one opens.
  const jumpTo = Math.min(firstOpening, ...kills.map((k) => t0 + k));
  if (jumpTo > clock.now()) await clock.sleep(jumpTo - clock.now());
  let coordinators = 0;
  let unfinished: string | undefined;
  /** When the simulation stopped a run that had not ended (virtual epoch ms). */
  let stoppedAt: number | undefined;
  /** Killed coordinators whose work in flight (e.g. a cold move) still runs out in the world. */
  const dead: Promise<unknown>[] = [];
  /** The next kill in `kills`: one kills the coordinator running at its time, then it is spent. */
  let nextKill = 0;
  for (;;) {
    const n = coordinators++;
    // A kill while no coordinator ran (during a restart) hits nobody. One at the very instant a
    // coordinator starts (`at: 0s`) kills it once it has done what it does at that instant.
    while (nextKill < kills.length && t0 + (kills[nextKill] as number) < clock.now()) nextKill++;
    const killAt = kills[nextKill];
    const gate = killable(store, (p) => clock.track(p));
    const hard = new AbortController();
    // Every host's unit in flight listens on it (hundreds at once): not a leak, no warning.
    setMaxListeners(0, hard.signal);
    const deadline = new AbortController();
    const coordinator = new Coordinator(
      {
        store: gate.store,
        transport: world.transport(),
        workloads: world.workloads(),
        health: world.health(),
        clock,
        random: seededRandom(scenario.seed + 7919 * (n + 1)),
        sink,
        notifier: nullNotifier,
      },
      { owner: `sim-coordinator-${n + 1}`, leaseTtlMs, tickMs: 1_000 },
      run.id,
      hard.signal,
    );
    const driving = coordinator.drive().then(
      (r): { drove: DriveResult } => ({ drove: r }),
      (e: unknown): { failed: unknown } => ({ failed: e }),
    );
    const stopAt = killAt !== undefined ? Math.min(t0 + killAt, t0 + maxVirtualMs) : t0 + maxVirtualMs;
    const timer = clock.sleep(Math.max(0, stopAt - clock.now()), deadline.signal).then(
      () => "timer" as const,
      () => "cancelled" as const,
    );
    const first = await Promise.race([driving, timer]);
    if (first !== "timer" && first !== "cancelled") {
      deadline.abort();
      if ("failed" in first && !gate.killed) throw first.failed;
      const state = "drove" in first ? first.drove.run.state : undefined;
      if (state !== undefined && isTerminalRun(state)) break;
      // Deposed or held elsewhere (a lease of a killed coordinator not expired yet): start another.
      if (coordinators > kills.length + 20) {
        unfinished = `no coordinator could take the run over (last: ${"drove" in first ? first.drove.outcome : "error"})`;
        stoppedAt = clock.now();
        break;
      }
      await clock.sleep(restartDelayMs);
      continue;
    }
    // The kill (or the end of the simulated time): stop dead, like SIGKILL.
    nextKill++;
    gate.kill();
    world.transport().coordinatorKilled();
    hard.abort(new Error("coordinator killed"));
    // A killed process waits for nothing: its successor starts `restartDelayMs` after the kill,
    // while the effects it set going (a cold move cannot be cancelled) finish in the world.
    dead.push(driving);
    if (killAt === undefined || t0 + killAt >= t0 + maxVirtualMs) {
      stoppedAt = clock.now();
      const r = await store.getRun(run.id);
      unfinished = `the run did not end within ${Math.round(maxVirtualMs / 3_600_000)}h of simulated time (run state: ${r?.state ?? "?"}${r?.reason ? `, ${r.reason}` : ""})`;
      break;
    }
    await clock.sleep(restartDelayMs);
  }

  // Every effect a killed coordinator left running is in the ledger before the check.
  await Promise.all(dead);
  await world.transport().outlived();
  await Promise.all(approvals);
  const [final, hosts, attempts, events] = await Promise.all([
    store.getRun(run.id),
    store.getHosts(run.id),
    store.getAttempts(run.id),
    allEvents(store, run.id),
  ]);
  if (!final) throw new Error(`simulated run ${run.id} vanished from the store`);
  const invariants = checkInvariants({
    // A host with no declared capacity (an inventory host) has the one the world enforced.
    hosts: input.hosts.map((h) => (h.capacity ? h : { ...h, capacity: world.capacityOf(h.name) })),
    workloads: input.workloads,
    ledger: world.ledger,
    plan: loaded.plan,
    runHosts: hosts,
    events,
    runState: final.state,
    ...(unfinished !== undefined ? { unfinished: true } : {}),
  });
  // The end of the run (its last event), or where the simulation stopped one that had not ended.
  let end = stoppedAt ?? t0;
  if (stoppedAt === undefined) for (const e of events) if (e.at > end) end = e.at;
  const result: SimulationResult = {
    run: final,
    hosts,
    attempts,
    events,
    ledger: world.ledger,
    invariants,
    coordinators,
    virtualMs: end - t0,
  };
  if (unfinished !== undefined) result.unfinished = unfinished;
  return result;
}

async function allEvents(store: Store, runId: string): Promise<EventRecord[]> {
  const all: EventRecord[] = [];
  for (let after = 0; ; ) {
    const batch = await store.listEvents(runId, after, 10_000);
    all.push(...batch);
    if (batch.length < 10_000) return all;
    after = (batch[batch.length - 1] as EventRecord).seq;
  }
}
