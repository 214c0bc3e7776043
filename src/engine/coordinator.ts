/**
 * The coordinator: drives one run to its end. Claims the run's host flows with leases, resolves
 * attempts a crashed predecessor left in doubt, admits hosts under waves, caps and stagger, runs
 * one unit of work per host at a time, enforces the failure budget, and honours pause / resume /
 * abort written by operators into the store. An aborted run leaves no attempt open: one still in
 * doubt is closed as unknown and its host parked `in_doubt` (`HostFlow.abort`).
 *
 * Invariants:
 * - Reads time only from the Clock port and randomness only from the Random port.
 * - Writes to a host flow only while holding its lease (fenced in the store); a coordinator that
 *   lost every lease stops ("deposed") without writing anything more. A lease granted again (an
 *   operator's retry freed it) gets a fresh flow from the stored state, never the stale one.
 * - The run (pause, resume, abort) and the view of the hosts it does not hold (budget, caps,
 *   completion) are read when the drive begins, after noting where the run's event log ends; then
 *   re-read on any tick after its picture of its leases changed (a lease granted or lost), and on
 *   any tick after the log shows an event written by anyone else (an operator, another
 *   coordinator) since. Every write to a run or a host flow other than a lease comes with an event
 *   in the same transaction (coordinator.ts, host-flow.ts, runs.ts), so a quiet log means what it
 *   does not hold is as last read; its own hosts and run changes it knows first-hand (`flows`,
 *   `run`).
 * - Those events written by anyone else are handed to the sink's `observe` (when it has one), in
 *   seq order, each once, and none from before the drive began (`readFeed`): the live progress and
 *   the run's log show an operator's pause or resume too, not only this coordinator's own events.
 * - Leases are sought (`acquireLeases`) on those same ticks, and on every tick while some
 *   unfinished host of the view is not held: only such a host can be granted (the store never
 *   grants a terminal host, nor one we hold), and a finished one comes back only by an operator's
 *   retry, which is an event.
 * - Admission and the failure count are pure functions of the view; they are recomputed only when
 *   a host's state in the view (or the set of held hosts, or the wave, or the next window opening)
 *   may have changed since the last time they found nothing to do (`viewVersion`).
 * - A run that follows a schedule with windows starts no host of a region before its window opens
 *   (admission holds it); the idle wait ends at the next opening, so held hosts neither spin the
 *   loop nor start later than the opening.
 * - Units start in the order of `flows` (the order hosts were granted), whichever hosts are due;
 *   only hosts that may be due are looked at (`ready`), so a tick costs O(hosts in flight).
 * - Run state changes are compare-and-set on the state the coordinator last read, and every one is
 *   checked against the run transition table.
 * - Nothing new starts while the run is paused, halting or aborting; work in flight finishes its
 *   current unit (an effect is never cut off by a pause).
 * - Leases are renewed for as long as any unit of this coordinator is in flight: in the loop, while
 *   a graceful stop waits for its units, and while `drive` settles them after an error, so a step
 *   that outlasts the lease's TTL is never taken over (and run again) by a successor while it still
 *   runs. A failed renewal (a store hiccup) is retried soon, never fatal; past the last successful
 *   renewal's expiry (`leaseValidUntil`) no unit starts and no chained intent continues, since a
 *   successor may hold the hosts by then.
 * - A unit that fails for any reason but a lost lease or a stop (a store error while it commits)
 *   ends the drive with that error once the other units have settled; it is never left as a
 *   rejection nobody waits for.
 * - The failure budget is checked again before each host an admission starts, so a failure that
 *   lands while earlier starts of the same admission are being committed stops the rest.
 */
import { LeaseLostError, SafetyRefusal } from "../core/errors.js";
import {
  ACTIVE_HOST_STATES,
  assertRunTransition,
  isTerminalHost,
  isTerminalRun,
  type RunState,
} from "../core/flow/states.js";
import type { Host } from "../core/model/fleet.js";
import type { Plan, Step } from "../core/plan/compile.js";
import { WORKLOAD_STEP_KINDS } from "../core/plan/schema.js";
import {
  type ActiveCounts,
  type AdmissionHost,
  admit,
  countHost,
  emptyCounts,
  nextOpening,
} from "../core/policy/admission.js";
import { budgetExceeded, budgetExceededReason, countsAsFailed, tally } from "../core/policy/budget.js";
import type { AttemptRecord, HostFlowRecord, NewEvent, RunRecord } from "../ports/store.js";
import { AbortFanout } from "./abort-fanout.js";
import type { CoordinatorOptions, EngineDeps } from "./deps.js";
import { ApprovalWithdrawn, CoordinatorStopped, HostFlow } from "./host-flow.js";
import { loadRunPlan, runOpensAt } from "./plan-of-run.js";

export type DriveOutcome =
  /** The run reached a terminal state. */
  | "finished"
  /** Another live coordinator holds the run's leases. */
  | "held-elsewhere"
  /** This coordinator lost its leases while running. */
  | "deposed"
  /** Stopped from outside (signal) before the run finished. */
  | "detached";

/** Admission's view of a host (wave, order, region, domains never change), with the view's record. */
interface AdmissionEntry extends AdmissionHost {
  readonly rec: HostFlowRecord;
  /** Counted as active in `activeCounts`. */
  counted: boolean;
}

export interface DriveResult {
  outcome: DriveOutcome;
  run: RunRecord;
}

export class Coordinator {
  private run!: RunRecord;
  private plan!: Plan;
  private readonly flows = new Map<string, HostFlow>();
  /** Host -> rank of its entry in `flows`' iteration order (a host granted again goes last). */
  private readonly position = new Map<string, number>();
  private positions = 0;
  /**
   * Hosts that may be due a unit: every held host that is not busy and is running or reverting is
   * in here (and maybe others, dropped when looked at). Added to when a flow is set, a unit ends,
   * or a flow's state changes.
   */
  private readonly ready = new Set<string>();
  /** Every host flow of the run (ours are refreshed from `flows`). */
  private view = new Map<string, HostFlowRecord>();
  private readonly busy = new Map<string, Promise<void>>();
  /** The first unexpected error of a unit (see `startUnits`): the drive ends with it. */
  private unitError: { error: unknown } | undefined;
  private approvals = new Set<string>();
  private nextStartAt = 0;
  /** Region -> when its window opens (a run that follows a schedule with windows). */
  private opensAt: Readonly<Record<string, number>> | undefined;
  private nextRenewAt = 0;
  /** Our leases are certainly ours until then: the last successful grant or renewal + TTL. */
  private leaseValidUntil = 0;
  private nextRefreshAt = 0;
  private readonly wake: Array<() => void> = [];
  /** The controller of the last idle wait, when its timer fired: the next wait's (see `waitForSomething`). */
  private idleWait: AbortController | undefined;
  /** One listener each on `signal` and `drain` for all effects and idle waits (abort-fanout.ts). */
  private readonly stop: AbortFanout;
  private readonly stopDrain: AbortFanout;
  /** Seq of the newest run event the view has taken into account (see `readFeed`). */
  private feedSeq = 0;
  /** The stored hosts must be re-read at the next refresh (leases granted or lost). */
  private viewStale = true;
  /** Bumped whenever a host's state in `view`, or the set of held hosts, may have changed. */
  private viewVersion = 0;
  /** When admission last started nothing and left the wave as it was (see `admitHosts`). */
  private idleAdmission: { version: number; wave: number; stagger: boolean; opening: number } | undefined;
  private failedMemo = { version: -1, failed: 0 };
  /** Bumped when the set of held hosts changes or the stored hosts are re-read (`unheldLive`). */
  private heldVersion = 0;
  private unheldMemo = { version: -1, n: 0 };
  /** Admission's view of each host and its record in `view` (state refreshed per call; see `viewOrder`). */
  private readonly admission = new Map<string, AdmissionEntry>();
  /**
   * Admission's view of every host of `view`, in its order, each with its record, so admission
   * walks one array instead of looking each host up by name and building a list per call.
   * Dropped (rebuilt when next needed) whenever `view` gets another record for a host or is
   * rebuilt; records change in place otherwise.
   */
  private viewOrder: AdmissionEntry[] | undefined;
  /**
   * The hosts of `viewOrder` that are active, counted as admission counts them (admission.ts:
   * `counts`): brought up to date before each admission from the entries' `counted`, and reset
   * with `viewOrder`, so it never counts a host twice or one that is no longer active.
   */
  private activeCounts: ActiveCounts = emptyCounts();
  /** The run's highest wave (over every host, terminal ones included). */
  private maxWave = 0;

  constructor(
    private readonly deps: EngineDeps,
    private readonly opts: CoordinatorOptions,
    private readonly runId: string,
    private readonly signal: AbortSignal = new AbortController().signal,
    /** Graceful stop: start nothing new, let units in flight finish, then detach. */
    private readonly drain: AbortSignal = new AbortController().signal,
  ) {
    this.stop = new AbortFanout(signal);
    this.stopDrain = new AbortFanout(drain);
  }

  private event(type: string, data: Record<string, unknown> = {}, host: string | null = null): NewEvent {
    return { runId: this.runId, host, at: this.deps.clock.now(), type, actor: this.opts.owner, data };
  }

  private async setRun(
    to: RunState,
    extra: { reason?: string | null; currentWave?: number } = {},
    data: Record<string, unknown> = {},
    type?: string,
    opts: { exclusive?: boolean } = {},
  ): Promise<boolean> {
    const from = this.run.state;
    if (from !== to) assertRunTransition(from, to);
    const patch = { state: to, updatedAt: this.deps.clock.now(), ...extra };
    const ev = this.event(type ?? (from === to ? "run.updated" : `run.${to}`), {
      from,
      ...data,
      ...(extra.reason ? { reason: extra.reason } : {}),
    });
    const ok = await this.deps.store.updateRun(this.runId, [from], patch, [ev], opts);
    if (ok) {
      Object.assign(this.run, patch);
      this.deps.sink.emit(ev);
    } else {
      await this.refreshRun();
    }
    return ok;
  }

  private async refreshRun(): Promise<void> {
    const r = await this.deps.store.getRun(this.runId);
    if (r) this.run = r;
  }

  private async loadApprovals(): Promise<void> {
    const evs = await this.deps.store.listEvents(this.runId);
    this.approvals = new Set(evs.filter((e) => e.type === "gate.approved").map((e) => String(e.data.step)));
  }

  private async acquire(): Promise<number> {
    const { store, clock } = this.deps;
    const at = clock.now();
    const granted = await store.acquireLeases(this.runId, this.opts.owner, at, this.opts.leaseTtlMs);
    if (granted.length === 0) return 0;
    // acquireLeases extends every lease we hold to at + TTL, as a renewal does.
    this.leaseValidUntil = at + this.opts.leaseTtlMs;
    const attempts = await store.getAttempts(this.runId);
    const byHost = new Map<string, AttemptRecord[]>();
    for (const a of attempts) {
      const list = byHost.get(a.host) ?? [];
      list.push(a);
      byHost.set(a.host, list);
    }
    for (const rec of granted) {
      // The store never re-grants a lease we hold, so a flow we already have for this host is stale:
      // an operator's retry (or an expired lease) freed it and bumped its token. Replace it, or the
      // host would be driven from its old state and token forever. A unit of the stale flow still in
      // flight is fenced; the new flow starts once it has settled (one unit per host at a time).
      this.setFlow(new HostFlow(this.flowContext(), rec, byHost.get(rec.host) ?? []));
      this.view.set(rec.host, rec);
      this.viewOrder = undefined;
    }
    this.viewChanged(true);
    this.deps.sink.emit(this.event("lease.acquired", { hosts: granted.length, owner: this.opts.owner }));
    return granted.length;
  }

  private flowContext() {
    return {
      deps: this.deps,
      plan: this.plan,
      runId: this.runId,
      owner: this.opts.owner,
      signal: this.signal,
      stop: this.stop,
      awaitApproval: (step: Step) => this.awaitApproval(step),
      onStateChange: (host: string) => {
        this.ready.add(host);
        this.viewChanged();
      },
      // What `loop` checks before it starts units (host-flow.ts: chained intents).
      mayContinue: () =>
        (this.run.state === "running" || this.run.state === "halting") &&
        !this.signal.aborted &&
        !this.drain.aborted &&
        this.deps.clock.now() < this.leaseValidUntil,
    };
  }

  private setFlow(f: HostFlow): void {
    if (!this.flows.has(f.name)) this.position.set(f.name, this.positions++);
    this.flows.set(f.name, f);
    this.ready.add(f.name);
  }

  /** A host's state in the view, or the set of held hosts, may have changed (`stale`: re-read). */
  private viewChanged(stale = false): void {
    this.viewVersion++;
    if (stale) {
      this.viewStale = true;
      this.heldVersion++;
    }
  }

  /**
   * A manual gate: pause the run (also a halting one: hosts in flight finish their flow, and only a
   * paused run can be approved) until an operator's resume approves the gate. An abort ends the
   * wait (the host stops at the gate); a graceful stop leaves the attempt in doubt (re-run later).
   * The reason says how to approve it: `resume --detach` approves and returns, and this coordinator,
   * still waiting here and holding the hosts, carries on (a plain `resume` would wait up to two
   * lease TTLs to take the run over, then leave it to this one); plain `resume` only once this one
   * has stopped.
   */
  private async awaitApproval(step: Step): Promise<void> {
    for (;;) {
      if (this.approvals.has(step.name)) return;
      if (this.run.state === "aborting" || this.run.state === "aborted")
        throw new ApprovalWithdrawn(`run aborted while gate "${step.name}" awaited approval`);
      if (this.drain.aborted) throw new CoordinatorStopped();
      if (this.run.state === "running" || this.run.state === "halting") {
        await this.setRun(
          "paused",
          {
            reason: `gate "${step.name}" awaits approval: run \`overhaul resume ${this.runId} --detach\` (the coordinator waiting at it carries on; if it has stopped, \`overhaul resume ${this.runId}\`)`,
          },
          { gate: step.name },
        );
      }
      await this.deps.clock.sleep(this.opts.tickMs, this.signal);
      if (this.run.state !== "paused") await this.loadApprovals();
    }
  }

  private async reloadView(): Promise<void> {
    this.viewStale = false;
    const all = await this.deps.store.getHosts(this.runId);
    // A flow whose lease token the store has moved on from (an operator's skip of a host we held,
    // or a lease taken over) is stale: the stored record is the host's state, so a skipped failure
    // no longer counts against the budget. A unit in flight settles first (it is fenced).
    for (const h of all) {
      const f = this.flows.get(h.host);
      if (f !== undefined && f.rec.leaseToken !== h.leaseToken && !this.busy.has(h.host)) {
        this.flows.delete(h.host);
        this.heldVersion++;
      }
    }
    this.view = new Map(all.map((h) => [h.host, this.flows.get(h.host)?.rec ?? h]));
    this.viewOrder = undefined;
    this.maxWave = all.reduce((m, h) => Math.max(m, h.wave), 0);
    this.heldVersion++;
    this.viewChanged();
  }

  /**
   * Follow the run's events since the last look: did anyone else write (see the header)? Their
   * events are read only then, and only for a sink that observes them; `feedSeq` moves past each
   * event once, so none is handed on twice.
   */
  private async readFeed(): Promise<boolean> {
    const { store, sink } = this.deps;
    const after = this.feedSeq;
    const feed = await store.feedSince(this.runId, after, this.opts.owner);
    this.feedSeq = feed.lastSeq;
    if (feed.foreign && sink.observe !== undefined) {
      for (const e of await store.listEvents(this.runId, after)) {
        // Later ones (written since `feedSince`) are the next look's.
        if (e.seq > feed.lastSeq) break;
        if (e.actor !== this.opts.owner) sink.observe(e);
      }
    }
    return feed.foreign;
  }

  /**
   * Unfinished hosts of the view this coordinator does not hold. Their states change only when
   * the stored hosts are re-read, so the count changes only then or with the set of held hosts.
   */
  private unheldLive(): number {
    if (this.unheldMemo.version === this.heldVersion) return this.unheldMemo.n;
    let n = 0;
    for (const h of this.view.values()) if (!isTerminalHost(h.state) && !this.flows.has(h.host)) n++;
    this.unheldMemo = { version: this.heldVersion, n };
    return n;
  }

  /** Drive the run until it ends, or until this coordinator cannot go on. */
  async drive(): Promise<DriveResult> {
    const { store, clock } = this.deps;
    // Where the log ends before anything is read: what others write from now on is followed (and
    // observed); what they wrote before is in what is read next.
    this.feedSeq = (await store.feedSince(this.runId, 0, this.opts.owner)).lastSeq;
    const run = await store.getRun(this.runId);
    if (!run) throw new Error(`run ${this.runId} does not exist`);
    this.run = run;
    this.plan = await loadRunPlan(store, run);
    this.opensAt = runOpensAt(run);
    const moving = this.plan.steps.find((s) => WORKLOAD_STEP_KINDS.includes(s.kind));
    if (moving && !this.deps.workloads) {
      throw new SafetyRefusal(
        "workloads",
        `run ${this.runId}: step "${moving.name}" (${moving.kind}) needs a workloads manager, and this coordinator has none (a simulated run is driven by \`overhaul simulate\` only)`,
      );
    }
    await this.loadApprovals();
    await this.reloadView();
    if (isTerminalRun(this.run.state)) return { outcome: "finished", run: this.run };

    await this.acquire();
    if (this.flows.size === 0 && [...this.view.values()].some((h) => !isTerminalHost(h.state))) {
      const waited = await this.takeOver();
      if (waited !== undefined) return waited;
    }
    this.deps.sink.emit(
      this.event("coordinator.started", { owner: this.opts.owner, hosts: this.flows.size }),
    );
    this.nextRenewAt = clock.now() + this.opts.leaseTtlMs / 3;

    try {
      return await this.loop();
    } finally {
      await this.settleUnits();
      await store.releaseLeases(this.runId, this.opts.owner).catch(() => {});
    }
  }

  /**
   * Someone else holds the leases: a dead holder's expire within a TTL of its last renewal, a live
   * one renews them. The expiries are the store's (on PostgreSQL, the database's clock, which this
   * coordinator's may not agree with), so they only say when to look first; then look again every
   * TAKEOVER_POLL_MS for one more TTL (a clock off by up to a TTL still takes a dead holder's
   * leases), and give up on a live holder after that. Before waiting it says what for
   * (`takeover.waiting`: the holders, their expiry, when it gives up), since that may be twice the
   * TTL. Nothing is held meanwhile, so a stop (either signal) ends the wait at once, detached.
   * Returns undefined once it holds hosts (or every host is finished).
   */
  private async takeOver(): Promise<DriveResult | undefined> {
    const { clock } = this.deps;
    const ttl = this.opts.leaseTtlMs;
    const expiries = [...this.view.values()].map((h) => h.leaseExpiresAt ?? 0);
    const heldUntil = Math.max(...expiries);
    const first = Math.min(Math.max(0, heldUntil - clock.now()), ttl) + 50;
    const giveUpAt = clock.now() + first + ttl;
    const holders = new Set<string>();
    for (const h of this.view.values()) {
      if (!isTerminalHost(h.state) && h.leaseOwner !== null) holders.add(h.leaseOwner);
    }
    this.deps.sink.emit(this.event("takeover.waiting", { holders: [...holders], heldUntil, giveUpAt }));
    const ac = new AbortController();
    this.stop.add(ac, WAIT_OVER);
    this.stopDrain.add(ac, WAIT_OVER);
    const stopped = () => this.signal.aborted || this.drain.aborted;
    const detached: DriveResult = { outcome: "detached", run: this.run };
    try {
      if (stopped()) return detached;
      await clock.sleep(first, ac.signal).catch(() => {});
      for (;;) {
        if (stopped()) return detached;
        await this.acquire();
        await this.reloadView();
        if (this.flows.size > 0 || [...this.view.values()].every((h) => isTerminalHost(h.state))) return;
        const now = clock.now();
        if (now >= giveUpAt) return { outcome: "held-elsewhere", run: this.run };
        await clock.sleep(Math.min(TAKEOVER_POLL_MS, ttl / 10, giveUpAt - now), ac.signal).catch(() => {});
      }
    } finally {
      this.stop.delete(ac);
      this.stopDrain.delete(ac);
    }
  }

  /**
   * Renew our leases now. A failure (the store unreachable for a moment) is reported and retried
   * soon, never thrown: units in flight must keep their leases (see the header). Returns how many
   * leases are still ours, or undefined when the renewal failed.
   */
  private async renew(): Promise<number | undefined> {
    const { clock, store } = this.deps;
    const now = clock.now();
    try {
      const held = await store.renewLeases(this.runId, this.opts.owner, now, this.opts.leaseTtlMs);
      this.nextRenewAt = now + this.opts.leaseTtlMs / 3;
      if (held > 0) this.leaseValidUntil = now + this.opts.leaseTtlMs;
      return held;
    } catch (e) {
      // A hard stop (a killed coordinator's store fails every call) is not a hiccup.
      if (this.signal.aborted) throw e;
      this.nextRenewAt = now + Math.min(RENEW_RETRY_MS, this.opts.leaseTtlMs / 10);
      this.deps.sink.emit(
        this.event("lease.renewal-failed", {
          owner: this.opts.owner,
          error: e instanceof Error ? e.message : String(e),
          validUntil: this.leaseValidUntil,
        }),
      );
      return undefined;
    }
  }

  /** Wait for every unit in flight, renewing the leases meanwhile (a step may outlast the TTL). */
  private async settleUnits(): Promise<void> {
    const { clock } = this.deps;
    while (this.busy.size > 0) {
      if (this.signal.aborted) {
        // A hard stop told the units to stop at once: nothing is renewed for them any more.
        await Promise.allSettled(this.busy.values());
        return;
      }
      if (clock.now() >= this.nextRenewAt) {
        // On failure the next try is set a moment later, so this never spins.
        await this.renew();
        continue;
      }
      const ac = new AbortController();
      await Promise.race([
        Promise.allSettled(this.busy.values()),
        clock.sleep(this.nextRenewAt - clock.now(), ac.signal).catch(() => {}),
      ]);
      ac.abort(WAIT_OVER);
    }
  }

  private async loop(): Promise<DriveResult> {
    const { clock } = this.deps;
    for (;;) {
      if (this.unitError !== undefined) throw this.unitError.error;
      if (this.signal.aborted) return { outcome: "detached", run: this.run };
      if (this.drain.aborted) {
        // Graceful stop: wait for the units in flight (still renewing), start nothing, then detach.
        await this.settleUnits();
        return { outcome: "detached", run: this.run };
      }
      const now = clock.now();

      const held = now >= this.nextRenewAt ? await this.renew() : undefined;
      if (held !== undefined) {
        if (held < this.flows.size) await this.dropLost();
        if (this.flows.size === 0 && held === 0 && this.busy.size === 0) {
          await this.acquire();
          if (this.flows.size === 0) {
            await this.reloadView();
            if ([...this.view.values()].every((h) => isTerminalHost(h.state) || h.state === "pending")) {
              // nothing leased and nothing active: fall through to completion checks
            } else return { outcome: "deposed", run: this.run };
          }
        }
      }
      if (now >= this.nextRefreshAt) {
        this.nextRefreshAt = now + this.opts.tickMs;
        // Operators (pause, resume, abort, retry, skip) and other coordinators write events; our own
        // changes we know. So the run and the hosts are re-read when the log shows someone else's
        // event (or our leases changed); hosts released by an operator come back through new leases.
        const foreign = await this.readFeed();
        if (foreign || this.viewStale) await this.refreshRun();
        if (foreign || this.viewStale || this.unheldLive() > 0) await this.acquire();
        if (foreign || this.viewStale) await this.reloadView();
      }

      const state = this.run.state;
      if (isTerminalRun(state)) {
        if (this.busy.size === 0) return { outcome: "finished", run: this.run };
      } else if (state === "aborting") {
        if (this.busy.size === 0) return this.finishAbort();
      } else if (state === "running" || state === "halting") {
        await this.checkBudget();
        if (this.run.state === "running") await this.admitHosts();
        this.startUnits();
        const done = await this.checkCompletion();
        if (done) return done;
      }
      await this.waitForSomething();
    }
  }

  private async dropLost(): Promise<void> {
    const mine = await this.deps.store.getHosts(this.runId);
    for (const h of mine) {
      const f = this.flows.get(h.host);
      if (
        f &&
        (h.leaseOwner !== this.opts.owner || h.leaseToken !== f.rec.leaseToken) &&
        !this.busy.has(h.host)
      ) {
        this.flows.delete(h.host);
        this.view.set(h.host, h);
        this.viewOrder = undefined;
        this.viewChanged(true);
      }
    }
  }

  private failedCount(): number {
    if (this.failedMemo.version === this.viewVersion) return this.failedMemo.failed;
    let n = 0;
    for (const h of this.view.values()) if (countsAsFailed(h.state)) n++;
    this.failedMemo = { version: this.viewVersion, failed: n };
    return n;
  }

  private async checkBudget(): Promise<void> {
    if (this.run.state !== "running") return;
    const failed = this.failedCount();
    if (budgetExceeded(this.plan.failureBudget, this.view.size, failed)) {
      const reason = budgetExceededReason(
        this.plan.failureBudget,
        tally([...this.view.values()].map((h) => h.state)),
      );
      if (await this.setRun("halting", { reason })) {
        await this.deps.notifier
          .notify({ runId: this.runId, severity: "critical", summary: `run ${this.runId} halted: ${reason}` })
          .catch(() => {});
      }
    }
  }

  /** Admission's view of the hosts of `view`, in its order (see `viewOrder`). */
  private admissionOrder(): readonly AdmissionEntry[] {
    if (this.viewOrder !== undefined) return this.viewOrder;
    const order: AdmissionEntry[] = [];
    this.activeCounts = emptyCounts();
    for (const rec of this.view.values()) {
      let a = this.admission.get(rec.host);
      if (!a || a.rec !== rec) {
        const h = rec.data as unknown as Host;
        a = {
          host: rec.host,
          wave: rec.wave,
          order: rec.order,
          state: rec.state,
          region: h.region,
          // The planner's domains (replicated groups, hold-over room) count like racks.
          domains: a?.domains ?? {
            ...(h.failureDomains ?? {}),
            ...((rec.data.scheduleDomains as Record<string, string>) ?? {}),
          },
          rec,
          counted: false,
        };
        this.admission.set(rec.host, a);
      }
      a.counted = false;
      order.push(a);
    }
    this.viewOrder = order;
    return order;
  }

  private async admitHosts(): Promise<void> {
    const { clock, random } = this.deps;
    for (;;) {
      const staggered = this.plan.stagger.intervalMs > 0 || this.plan.stagger.jitterMs > 0;
      // Admission is a pure function of the view, the wave and (staggered) whether the stagger
      // has expired: with the same inputs as a call that started nothing, it starts nothing again.
      const key = {
        version: this.viewVersion,
        wave: this.run.currentWave,
        stagger: staggered && clock.now() < this.nextStartAt,
        // A window that opens changes admission's answer without any change of the view.
        opening: nextOpening(this.opensAt, clock.now()) ?? -1,
      };
      const idle = this.idleAdmission;
      if (
        idle &&
        idle.version === key.version &&
        idle.wave === key.wave &&
        idle.stagger === key.stagger &&
        idle.opening === key.opening
      )
        return;
      // Every host of the view, its state as now. Terminal ones change nothing but the highest
      // wave (admission.ts), which is passed on its own. The active ones are counted as they
      // become or stop being active, not all over again on each call.
      const hosts = this.admissionOrder();
      const counts = this.activeCounts;
      for (const a of hosts) {
        a.state = a.rec.state;
        const active = ACTIVE_HOST_STATES.includes(a.state);
        if (active !== a.counted) {
          countHost(counts, a, active ? 1 : -1);
          a.counted = active;
        }
      }
      const res = admit({
        hosts,
        counts,
        maxWave: this.maxWave,
        currentWave: this.run.currentWave,
        concurrency: this.plan.concurrency,
        now: clock.now(),
        nextStartAt: this.nextStartAt,
        staggered,
        ...(this.opensAt !== undefined ? { opensAt: this.opensAt } : {}),
      });
      // Admission counted the hosts it chose as active: so are their entries (one that does not
      // start after all is counted out again on the next call).
      for (const name of res.start) {
        const a = this.admission.get(name);
        if (a !== undefined) a.counted = true;
      }
      if (res.currentWave !== this.run.currentWave) {
        await this.setRun(
          this.run.state,
          { currentWave: res.currentWave },
          { wave: res.currentWave },
          "wave.started",
        );
      }
      const startable = res.start.filter((h) => this.flows.has(h));
      if (startable.length === 0) {
        if (res.currentWave === key.wave) this.idleAdmission = key;
        return;
      }
      for (const name of startable) {
        // A failure, or a pause (or a gate's), that landed while an earlier start was being
        // committed: start no more.
        await this.checkBudget();
        if (this.run.state !== "running") return;
        const f = this.flows.get(name) as HostFlow;
        try {
          await f.start();
        } catch (e) {
          if (e instanceof LeaseLostError) {
            this.flows.delete(name);
            this.viewChanged(true);
            continue;
          }
          throw e;
        }
        this.setView(name, f.rec);
      }
      if (staggered) {
        this.nextStartAt =
          clock.now() + this.plan.stagger.intervalMs + Math.round(this.plan.stagger.jitterMs * random.next());
        return;
      }
      // Asked again now, admission would start nothing: the hosts it chose that we hold are running,
      // so every cap counts them, while the ones it chose that we do not hold still fit (each cap
      // counts fewer of the chosen before them than it did) and every host it skipped is still
      // blocked (each cap counts at least as many before it). The wave cannot move either. That
      // holds only if nothing else changed meanwhile: one view change per start (or lost lease).
      if (this.viewVersion === key.version + startable.length && this.run.currentWave === res.currentWave) {
        this.idleAdmission = {
          version: this.viewVersion,
          wave: res.currentWave,
          stagger: false,
          opening: key.opening,
        };
        return;
      }
    }
  }

  private startUnits(): void {
    // The run may have been paused (or aborted) while admission awaited its commits.
    if (this.ready.size === 0 || (this.run.state !== "running" && this.run.state !== "halting")) return;
    const now = this.deps.clock.now();
    // Renewals have been failing past our leases' expiry: a successor may hold the hosts now.
    if (now >= this.leaseValidUntil) return;
    const rank = (h: string) => this.position.get(h) ?? 0;
    for (const name of [...this.ready].sort((a, b) => rank(a) - rank(b))) {
      const f = this.flows.get(name);
      if (!f || this.busy.has(name) || (f.rec.state !== "running" && f.rec.state !== "reverting")) {
        this.ready.delete(name);
        continue;
      }
      if (f.rec.notBefore !== null && f.rec.notBefore > now) continue;
      this.ready.delete(name);
      const p = f
        .step()
        .catch((e) => {
          if (e instanceof LeaseLostError) {
            // Only this flow: a newer one for the same host (re-acquired lease) stays.
            if (this.flows.get(f.name) === f) this.flows.delete(f.name);
            this.viewChanged(true);
            return;
          }
          if (e instanceof CoordinatorStopped || this.signal.aborted) return;
          // Anything else (a store error while committing) ends the drive: `loop` rethrows it
          // once it wakes, never an unhandled rejection nobody waits for.
          this.unitError ??= { error: e };
        })
        .finally(() => {
          this.busy.delete(f.name);
          this.ready.add(f.name);
          this.setView(f.name, (this.flows.get(f.name) ?? f).rec);
          for (const w of this.wake.splice(0)) w();
        });
      this.busy.set(f.name, p);
    }
  }

  private setView(host: string, rec: HostFlowRecord): void {
    const was = this.view.get(host);
    // The same record changes in place, and its flow reports state changes (`onStateChange`).
    if (was !== rec) {
      this.viewChanged();
      this.viewOrder = undefined;
    }
    this.view.set(host, rec);
  }

  private async checkCompletion(): Promise<DriveResult | undefined> {
    if (this.busy.size > 0) return undefined;
    const hosts = [...this.view.values()];
    const active = hosts.some((h) => h.state === "running" || h.state === "reverting");
    if (active) return undefined;
    if (this.run.state === "halting") {
      await this.setRun("failed", { reason: this.run.reason });
    } else {
      if (!hosts.every((h) => isTerminalHost(h.state))) return undefined;
      const bad = hosts.filter(
        (h) => h.state === "failed" || h.state === "in_doubt" || h.state === "aborted",
      );
      if (bad.length === 0) await this.setRun("succeeded", { reason: null });
      else {
        const failed = hosts.filter((h) => h.state === "failed").length;
        const doubt = hosts.filter((h) => h.state === "in_doubt").length;
        await this.setRun("failed", { reason: `${failed} host(s) failed, ${doubt} in doubt` });
      }
    }
    if (!isTerminalRun(this.run.state)) return undefined;
    return (await this.reopenedByRetry()) ? undefined : { outcome: "finished", run: this.run };
  }

  /**
   * An operator's retry that landed while the run was being finished (its host change committed
   * before our compare-and-set on the run, its own look at the run still saw it running, so it
   * did not reopen it): the run is opened again here and the host driven, rather than a finished
   * run left with a pending host nobody drives.
   */
  private async reopenedByRetry(): Promise<boolean> {
    const stored = await this.deps.store.getHosts(this.runId);
    // Hosts the run was finished as terminal (a halted run's pending hosts stay as they are).
    const open = stored
      .filter((h) => !isTerminalHost(h.state) && isTerminalHost(this.view.get(h.host)?.state ?? "pending"))
      .map((h) => h.host);
    if (open.length === 0 || (this.run.state !== "failed" && this.run.state !== "succeeded")) return false;
    // Lost to the operator's own reopening, this still reads the run as it is now. Finished, its
    // hosts were free for other runs: the store refuses to reopen it while another holds one (the
    // retried host then waits in the finished run, as its status says).
    try {
      await this.setRun("running", { reason: null }, { reopened: open }, undefined, { exclusive: true });
    } catch (e) {
      if (e instanceof SafetyRefusal && e.rule === "hosts-in-another-run") return false;
      throw e;
    }
    if (isTerminalRun(this.run.state)) return false;
    this.viewChanged(true);
    return true;
  }

  private async finishAbort(): Promise<DriveResult> {
    for (const f of this.flows.values()) {
      if (isTerminalHost(f.rec.state)) continue;
      try {
        await f.abort(this.run.reason ?? "run aborted by an operator");
        this.setView(f.name, f.rec);
      } catch (e) {
        if (!(e instanceof LeaseLostError)) throw e;
      }
    }
    await this.setRun("aborted");
    return { outcome: "finished", run: this.run };
  }

  /** Sleep until a unit finishes, a backoff or stagger expires, or the next tick. */
  private async waitForSomething(): Promise<void> {
    const { clock } = this.deps;
    const now = clock.now();
    let until = Math.min(this.nextRefreshAt, this.nextRenewAt);
    if (this.run.state === "running" || this.run.state === "halting") {
      // Every host that could be waiting for its `notBefore` is in `ready`.
      for (const name of this.ready) {
        const f = this.flows.get(name);
        if (
          f !== undefined &&
          !this.busy.has(f.name) &&
          f.rec.notBefore !== null &&
          (f.rec.state === "running" || f.rec.state === "reverting")
        ) {
          until = Math.min(until, f.rec.notBefore);
        }
      }
      if (this.nextStartAt > now) until = Math.min(until, this.nextStartAt);
      // Hosts held back by a window start when it opens, not a tick later.
      const opening = nextOpening(this.opensAt, now);
      if (opening !== undefined) until = Math.min(until, opening);
    }
    // Never less than 1 ms: a zero-length wait could resolve without ever yielding to I/O.
    const ms = Math.max(1, until - now);
    const ac = this.idleWait ?? new AbortController();
    this.idleWait = undefined;
    let wakeUp: () => void = () => {};
    const woke = new Promise<void>((resolve) => {
      wakeUp = resolve;
      this.wake.push(resolve);
    });
    this.stop.add(ac, WAIT_OVER);
    this.stopDrain.add(ac, WAIT_OVER);
    let slept = false;
    try {
      await Promise.race([
        woke,
        clock.sleep(ms, ac.signal).then(
          () => {
            slept = true;
          },
          () => {},
        ),
      ]);
    } finally {
      // A wait cut short cancels its timer, and its controller is done with. One whose timer has
      // fired has nothing left to cancel: its controller (not aborted) serves the next wait.
      if (slept && !ac.signal.aborted) this.idleWait = ac;
      else ac.abort(WAIT_OVER);
      this.stop.delete(ac);
      this.stopDrain.delete(ac);
      const i = this.wake.indexOf(wakeUp);
      if (i >= 0) this.wake.splice(i, 1);
    }
  }
}

/**
 * The reason the coordinator's idle wait is cancelled with (read by nobody; a plain `abort()`
 * would build a DOMException, with a stack, on every turn of the loop).
 */
const WAIT_OVER = Symbol("wait over");

/** How often a coordinator waiting to take over another's leases tries again (see `drive`). */
const TAKEOVER_POLL_MS = 1_000;

/** A failed lease renewal is tried again this soon (or at a tenth of the TTL, if shorter). */
const RENEW_RETRY_MS = 1_000;
