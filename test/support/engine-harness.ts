/**
 * A run on virtual time with the in-memory store and a scripted transport, driven by coordinators
 * made on demand (the pattern of test/integration/engine.test.ts), plus ways to leave an attempt
 * in doubt as a dead coordinator would.
 */
import { VirtualClock } from "../../src/adapters/clock/virtual-clock.js";
import { MemoryStore } from "../../src/adapters/store-memory/memory-store.js";
import { compilePlan } from "../../src/core/plan/compile.js";
import { parsePlanText } from "../../src/core/plan/load.js";
import { seededRandom } from "../../src/core/policy/random.js";
import { Coordinator } from "../../src/engine/coordinator.js";
import { nullNotifier } from "../../src/engine/deps.js";
import { createRun } from "../../src/engine/runs.js";
import type { EventRecord, HostCommit } from "../../src/ports/store.js";
import { type Handler, makeHosts, ScriptedTransport } from "./scripted-transport.js";

export async function setup(
  planYaml: string,
  hostsN: number,
  handler: Handler,
  hostOpts: Parameters<typeof makeHosts>[1] = {},
  /** The run's options (e.g. `{ simulated: true }`). */
  options: Record<string, unknown> = {},
) {
  const clock = new VirtualClock();
  const store = new MemoryStore();
  const random = seededRandom(1);
  const transport = new ScriptedTransport(clock, handler);
  const plan = compilePlan(parsePlanText(planYaml, "plan.yaml"));
  const run = await createRun(
    { store, clock, random },
    {
      plan,
      planBody: planYaml,
      planHash: "h",
      hosts: makeHosts(hostsN, hostOpts),
      options,
      actor: "test",
    },
  );
  const events: Omit<EventRecord, "seq">[] = [];
  /** Events others wrote, as each coordinator observed them (`EventSink.observe`), with its owner. */
  const observed: (EventRecord & { by: string })[] = [];
  const notes: string[] = [];
  /** `drain`: a graceful stop (start nothing new, let units in flight finish, then detach). */
  const coordinator = (owner = "c1", signal?: AbortSignal, drain?: AbortSignal) =>
    new Coordinator(
      {
        store,
        transport,
        clock,
        random,
        sink: { emit: (e) => events.push(e), observe: (e) => observed.push({ ...e, by: owner }) },
        notifier: {
          ...nullNotifier,
          notify: async (n) => {
            notes.push(n.summary);
          },
        },
      },
      { owner, leaseTtlMs: 30_000, tickMs: 500 },
      run.id,
      signal,
      drain,
    );
  return { clock, store, transport, run, coordinator, events, observed, notes };
}
export type Setup = Awaited<ReturnType<typeof setup>>;

export const states = async (t: Setup) =>
  Object.fromEntries((await t.store.getHosts(t.run.id)).map((h) => [h.host, h.state]));

export const attemptStates = async (t: Setup) =>
  (await t.store.getAttempts(t.run.id)).map((a) => [a.stepName, a.state]);

/** The events of host `h`, as `type` (and the data asked for). */
export const hostEvents = (t: Setup, h: string) => t.events.filter((e) => e.host === h);

/**
 * A coordinator killed right after the commit that `when` picks: its signal aborts, and nothing it
 * commits afterwards lands. `restore` lets the next coordinator commit again.
 */
export function killAfterCommit(t: Setup, when: (c: HostCommit) => boolean) {
  const ac = new AbortController();
  const commit = t.store.commitHost.bind(t.store);
  t.store.commitHost = async (c) => {
    if (ac.signal.aborted) throw new Error("killed");
    await commit(c);
    if (when(c)) ac.abort(new Error("SIGKILL"));
  };
  return { stop: ac.signal, restore: () => (t.store.commitHost = commit) };
}

/**
 * Leave attempt 1 of the first step of host h01 in doubt, as a coordinator that died after
 * committing its intent would: the host running, the attempt `started` with no result.
 */
export async function leaveInDoubt(t: Setup, stepName: string, pre: Record<string, unknown> | null) {
  const [lease] = await t.store.acquireLeases(t.run.id, "dead", t.clock.now(), 1_000);
  if (!lease) throw new Error("no lease");
  await t.store.commitHost({
    runId: t.run.id,
    host: lease.host,
    owner: "dead",
    token: lease.leaseToken,
    patch: { state: "running", attempts: 1 },
    intent: {
      runId: t.run.id,
      host: lease.host,
      seq: 1,
      stepIndex: 0,
      stepName,
      phase: "run",
      number: 1,
      state: "started",
      token: lease.leaseToken,
      pre,
      startedAt: t.clock.now(),
    },
  });
  // The dead coordinator's lease expires.
  await t.clock.sleep(5_000);
}
