/**
 * `SimWorkloads`: the `Workloads` port on a simulated world. `drain` moves every workload off a
 * host onto others of its region (hold-overs first, see placement.ts); `reinstate` brings the
 * workloads whose home is the host back to it.
 *
 * Invariants:
 * - Idempotent: each call moves only what still needs to move (drain: what runs on the host now;
 *   reinstate: what has this home and runs elsewhere), so a re-run after a crash moves nothing new.
 * - At most PARALLEL moves of one call run at once, started in the call's order. A move reserves
 *   the target's capacity when it starts and releases it at its end, so concurrent moves never
 *   overfill a host. A move is one clock timer from its start to its cut-over, and the end of one
 *   starts the next: a call is one promise, not one per move.
 * - A move is all or nothing: at cut-over the ledger gets `@unplace` (source) then `@place`
 *   (target) at the same instant, outcome = mode, the `@place` with the move's `downtimeMs` (the
 *   one the call's result reports, so a move whose call was given up still counts); a move that cannot finish leaves the workload
 *   where it was. Attached network volumes are served read-only from the target during the move
 *   (`@volume-ro`) and remounted read-write at cut-over (`@volume-rw`), or dropped when the move
 *   fails (`@volume-drop`); unattached network volumes are re-homed at cut-over (`@volume-move`).
 * - Live: the memory pre-copy can be cancelled (abort), the blackout cannot. Cold: once the
 *   workload is stopped the move runs to its end. A move that would end after the deadline is not
 *   started (reported in `unplaced`). On abort no new move starts, moves in flight end cleanly,
 *   then the call rejects with the signal's reason.
 * - A drain cordons its host (no workload is moved onto it) until `reinstate` of that host.
 * - One move of a workload at a time, as a hypervisor holds one migration job per VM: a call that
 *   finds the workload moving (another host's drain took it from a peer it was parked on while its
 *   home's reinstate wants it back; a move left running by a given-up call: a killed coordinator, a
 *   timed-out attempt) waits for that move to end, then looks at the workload afresh, so it is
 *   never moved by two calls at once, and a re-run after a crash does not move it a second time.
 * - No other guard hides an engine bug: if the world changes under a move some other way (its
 *   workload lost, its source gone), a live move fails; a cold one starts the copy anyway, and the
 *   ledger shows whatever that breaks.
 * - A call on a host that does not answer (booting, dead, partitioned) when it starts rejects with
 *   `TransportError("unreachable")` after `CONNECT_TIMEOUT_MS` (or at its deadline, or on abort),
 *   as a connect to it would. Any other unreachable host (a move's source, target or home) makes
 *   the call reject with `unreachable` at once when nothing could be done at all; otherwise the
 *   workloads it concerns are reported in `unplaced` with the reason.
 */
import { TransportError } from "../../core/errors.js";
import type { Host, Workload } from "../../core/model/fleet.js";
import { seededRandom } from "../../core/policy/random.js";
import type { Workloads, WorkloadsOptions, WorkloadsResult } from "../../ports/workloads.js";
import { chooseTarget, modeOf, refusal, timingOf } from "./placement.js";
import { hashOf, noAnswer, type SimHost } from "./sim-host.js";
import type { SimWorkload, WorldState } from "./world-state.js";

/** Moves of one drain or reinstate running at once. */
export const PARALLEL = 4;

type Verb = "drain" | "reinstate";
type Outcome =
  | { kind: "moved"; move: WorkloadsResult["moves"][number] }
  | { kind: "unplaced"; reason: string; unreachable: boolean }
  | { kind: "nothing" };

/** What is kept per workload that moves (one record: one lookup by id per move). */
interface MoveSlot {
  readonly w: SimWorkload;
  /** The workload's own PRNG for move durations (placement.ts: `timingOf`). */
  readonly rnd: { next(): number };
  /** Its move in flight (see the header: one at a time). */
  moving: Flight | undefined;
}

/** One drain or reinstate call in progress: its moves, at most PARALLEL at once. */
interface Call {
  readonly verb: Verb;
  readonly host: string;
  readonly ids: readonly string[];
  readonly opts: WorkloadsOptions;
  readonly result: WorkloadsResult;
  reachableFailures: number;
  /** Index in `ids` of the next workload to move. */
  next: number;
  /** Moves started and not ended. */
  active: number;
  /** In `pump` (a move that ends at once does not start the next one itself). */
  pumping: boolean;
  /** Settled (resolved or rejected): later ends change nothing. */
  over: boolean;
  /** Moves of this call whose live pre-copy an abort still cancels. */
  readonly cancellable: Set<Flight>;
  /** Moves of this call waiting for another call's move of their workload to end. */
  readonly waiting: Set<Waiter>;
  readonly resolve: (r: WorkloadsResult) => void;
  readonly reject: (e: unknown) => void;
  readonly onAbort: () => void;
}

/** A move between its start and its cut-over (one clock timer). */
interface Flight {
  readonly call: Call;
  readonly slot: MoveSlot;
  readonly from: string;
  readonly src: SimHost;
  readonly tgt: SimHost;
  readonly mode: "live" | "cold";
  readonly start: number;
  /** Live: the end of the pre-copy (abort before it drops the move). */
  readonly blackout: number;
  readonly downtimeMs: number;
  readonly boots: { src: number; tgt: number };
  cancel: () => void;
  /** Moves of other calls waiting for this one to end. */
  readonly waiters: Waiter[];
}

/** A move waiting for another move of its workload; `wake` runs at most once. */
interface Waiter {
  readonly call: Call;
  readonly id: string;
  woken: boolean;
}

export class SimWorkloads implements Workloads {
  private readonly slots = new Map<string, MoveSlot>();

  constructor(private readonly world: WorldState) {}

  async list(host: Host): Promise<string[]> {
    return this.world.runningOn(host.name);
  }

  async away(host: Host): Promise<string[]> {
    return this.awayFrom(host.name).map((w) => w.spec.id);
  }

  async drain(host: Host, opts: WorkloadsOptions): Promise<WorkloadsResult> {
    await this.reach(host, opts, "drain");
    this.world.cordoned.add(host.name);
    const ids = this.world.runningOn(host.name);
    return this.run("drain", host.name, ids, opts);
  }

  async reinstate(host: Host, opts: WorkloadsOptions): Promise<WorkloadsResult> {
    await this.reach(host, opts, "reinstate");
    this.world.cordoned.delete(host.name);
    const ids = this.awayFrom(host.name).map((w) => w.spec.id);
    return this.run("reinstate", host.name, ids, opts);
  }

  /** Workloads whose home is `host`, running somewhere else and not there. */
  private awayFrom(host: string): SimWorkload[] {
    // `homedAt` is already by id.
    return this.world.homedAt(host).filter((w) => w.on.length > 0 && !w.on.includes(host));
  }

  /**
   * Rejects unless the call may start: not aborted, and the host known and reachable. A host that
   * does not answer is given up on at the connect timeout (or the call's deadline, or abort).
   */
  private async reach(host: Host, opts: WorkloadsOptions, verb: Verb): Promise<SimHost> {
    if (opts.signal.aborted) throw opts.signal.reason;
    const h = this.world.simHost(host.name);
    if (!h) throw new TransportError("unreachable", `sim: ${verb}: unknown host ${host.name}`);
    const why = this.world.unreachable(h);
    if (why !== undefined) {
      await noAnswer(this.world.clock, opts.deadline, opts.signal);
      throw new TransportError("unreachable", `sim: ${verb}: ${host.name} unreachable (${why})`);
    }
    return h;
  }

  /**
   * Move `ids`, at most PARALLEL at once, in their order. Each move is one clock timer from its
   * start to its cut-over, and a move that ends starts the next one: no promise per move (a
   * 2,000-host run makes ~60,000 of them).
   */
  private run(verb: Verb, host: string, ids: string[], opts: WorkloadsOptions): Promise<WorkloadsResult> {
    return new Promise<WorkloadsResult>((resolve, reject) => {
      const call: Call = {
        verb,
        host,
        ids,
        opts,
        result: { moves: [], unplaced: [] },
        reachableFailures: 0,
        next: 0,
        active: 0,
        pumping: false,
        over: false,
        cancellable: new Set(),
        waiting: new Set(),
        resolve,
        reject,
        // Handled after the abort's own listeners have run, as a sleep's rejection would be.
        onAbort: () => {
          queueMicrotask(() => this.guarded(call, () => this.aborted(call)));
        },
      };
      opts.signal.addEventListener("abort", call.onAbort, { once: true });
      this.guarded(call, () => this.pump(call));
    });
  }

  /** Start moves until PARALLEL run (or none is left, or the call is aborted); settle when all ended. */
  private pump(call: Call): void {
    if (call.pumping || call.over) return;
    call.pumping = true;
    try {
      while (call.active < PARALLEL && call.next < call.ids.length && !call.opts.signal.aborted) {
        const id = call.ids[call.next++] as string;
        call.active++;
        this.move(call, id);
      }
    } finally {
      call.pumping = false;
    }
    if (call.active === 0) this.settle(call);
  }

  private settle(call: Call): void {
    if (call.over) return;
    call.over = true;
    const { opts, result, verb, host } = call;
    opts.signal.removeEventListener("abort", call.onAbort);
    if (opts.signal.aborted) call.reject(opts.signal.reason);
    else if (result.moves.length === 0 && result.unplaced.length > 0 && call.reachableFailures === 0) {
      const why = result.unplaced.map((u) => `${u.workload}: ${u.reason}`).slice(0, 3);
      call.reject(
        new TransportError(
          "unreachable",
          `sim: ${verb} of ${host}: nothing could be done (${why.join("; ")})`,
        ),
      );
    } else call.resolve(result);
  }

  /** Run `f` for `call`; an unexpected error settles the call with it (never a throw in a timer). */
  private guarded(call: Call, f: () => void): void {
    try {
      f();
    } catch (e) {
      this.fail(call, e);
    }
  }

  /** Settle `call` with an unexpected error (once; later ends change nothing). */
  private fail(call: Call, e: unknown): void {
    if (call.over) return;
    call.over = true;
    call.opts.signal.removeEventListener("abort", call.onAbort);
    call.reject(e);
  }

  /** A move of `call` ended (or never started): count it, and start the next. */
  private ended(call: Call, id: string, o: Outcome): void {
    if (o.kind === "moved") call.result.moves.push(o.move);
    else if (o.kind === "unplaced") {
      call.result.unplaced.push({ workload: id, reason: o.reason });
      if (!o.unreachable) call.reachableFailures++;
    }
    call.active--;
    this.pump(call);
  }

  /**
   * On abort: no new move starts (`pump`), live pre-copies not yet in their blackout are dropped,
   * moves waiting for another's end give up; blackouts and cold moves run to their cut-over.
   */
  private aborted(call: Call): void {
    const now = this.world.clock.now();
    for (const f of [...call.cancellable]) {
      if (now >= f.blackout) continue;
      f.cancel();
      this.world.release(f.tgt.host.name, f.slot.w);
      this.volumes(f.slot.w.spec, f.tgt.host.name, "@volume-drop", f.from);
      this.landed(f, { kind: "nothing" });
    }
    for (const wt of [...call.waiting]) this.wake(wt);
  }

  /** One workload's move, once no other move of it is in flight (see the header). */
  private move(call: Call, id: string): void {
    // Settled already (an unexpected error): it starts nothing more.
    if (call.over) return;
    const slot = this.slotOf(id);
    if (call.opts.signal.aborted) this.ended(call, id, { kind: "nothing" });
    else if (slot.moving !== undefined) {
      const wt: Waiter = { call, id, woken: false };
      call.waiting.add(wt);
      slot.moving.waiters.push(wt);
    } else {
      // Started: its end comes from the clock. Otherwise it ended at once (nothing to do, or why not).
      const now = this.moveOnce(call, slot);
      if (now !== undefined) this.ended(call, id, now);
    }
  }

  /** The move `wt` waited for ended (or its call was aborted): look at the workload afresh. */
  private wake(wt: Waiter): void {
    if (wt.woken) return;
    wt.woken = true;
    wt.call.waiting.delete(wt);
    this.guarded(wt.call, () => this.move(wt.call, wt.id));
  }

  /**
   * One workload's move: checks and target at once, then one timer to its cut-over. Returns the
   * outcome when the move does not start; undefined when it did.
   */
  private moveOnce(call: Call, slot: MoveSlot): Outcome | undefined {
    const { world } = this;
    const { verb, host, opts } = call;
    const { w } = slot;
    // Where it runs now: it may have moved (or been lost) while this call was busy with others.
    const from = verb === "drain" ? (w.on.includes(host) ? host : undefined) : w.on.find((x) => x !== host);
    if (from === undefined || (verb === "reinstate" && w.on.includes(host))) return { kind: "nothing" };
    if (w.spec.pinned) return unplaced(`pinned to ${from}`);
    const src = world.simHost(from) as SimHost;
    const srcWhy = world.unreachable(src);
    if (srcWhy !== undefined) return unplaced(`source ${from} unreachable (${srcWhy})`, true);
    const mode = modeOf(w.spec);
    if (mode === undefined) return unplaced("supports no migration mode");
    const target = this.targetFor(verb, host, w, src);
    if ("reason" in target) return unplaced(target.reason, target.unreachable);
    const tgt = world.simHost(target.target) as SimHost;
    const start = world.clock.now();
    const t = timingOf(w.spec, mode, src, start, slot.rnd);
    const needs = t.preCopyMs + t.downtimeMs;
    if (start + needs > opts.deadline) {
      const left = Math.max(0, Math.floor((opts.deadline - start) / 1000));
      return unplaced(`not started: the ${mode} move takes ${Math.ceil(needs / 1000)} s, ${left} s left`);
    }
    world.reserve(tgt.host.name, w);
    this.volumes(w.spec, tgt.host.name, "@volume-ro", from);
    // One timer to the cut-over. Only the live pre-copy can be cancelled (the workload still runs
    // untouched on the source): an abort before its end drops the move (`aborted`); one during
    // the blackout (or during a cold move) does not stop it, and the move runs to its cut-over.
    const f: Flight = {
      call,
      slot,
      from,
      src,
      tgt,
      mode,
      start,
      blackout: start + t.preCopyMs,
      downtimeMs: t.downtimeMs,
      boots: { src: src.boots, tgt: tgt.boots },
      cancel: noop,
      waiters: [],
    };
    slot.moving = f;
    if (t.preCopyMs > 0) call.cancellable.add(f);
    f.cancel = world.clock.timer(needs, () => this.finish(f));
    return undefined;
  }

  /**
   * The timer of a move: its cut-over, then its end. Whatever the cut-over throws (a bug), the
   * move ends: the workload is free to move again and the calls waiting for it go on, and the
   * move's own call is settled with the error.
   */
  private finish(f: Flight): void {
    let o: Outcome = { kind: "nothing" };
    try {
      o = this.cutover(f);
    } catch (e) {
      this.fail(f.call, e);
    } finally {
      this.landed(f, o);
    }
  }

  /** The cut-over of a move (or its clean failure): the workload runs on the target, or stays. */
  private cutover(f: Flight): Outcome {
    const { world } = this;
    const { w } = f.slot;
    const { from, src, tgt, mode } = f;
    world.release(tgt.host.name, w);
    const broken =
      this.broke(tgt, "target", f.boots.tgt, f.start) ??
      this.broke(src, "source", f.boots.src, f.start) ??
      (w.lost ? `lost with ${from}` : undefined);
    // A live migration needs the workload running on the source; a cold copy does not check.
    const gone = mode === "live" && !w.on.includes(from) ? `no longer running on ${from}` : undefined;
    if (broken !== undefined || gone !== undefined) {
      this.volumes(w.spec, tgt.host.name, "@volume-drop", from);
      const reason = `${mode} move to ${tgt.host.name} failed: ${broken ?? gone}`;
      return { kind: "unplaced", reason, unreachable: broken !== undefined };
    }
    // A cold move whose workload already left the source (another call moved it) still starts it.
    if (w.on.includes(from)) world.unplace(w, from, mode);
    world.place(w, tgt.host.name, mode, f.downtimeMs);
    this.volumes(w.spec, tgt.host.name, "@volume-rw", from);
    return {
      kind: "moved",
      move: { workload: w.spec.id, from, to: tgt.host.name, mode, downtimeMs: f.downtimeMs },
    };
  }

  /** A move in flight ended: the workload is free to move again; its call and its waiters go on. */
  private landed(f: Flight, o: Outcome): void {
    f.call.cancellable.delete(f);
    if (f.slot.moving === f) f.slot.moving = undefined;
    // The waiters go on whatever the next move of this call does (`guarded` never throws).
    this.guarded(f.call, () => this.ended(f.call, f.slot.w.spec.id, o));
    for (const wt of f.waiters) this.wake(wt);
  }

  private targetFor(
    verb: Verb,
    host: string,
    w: SimWorkload,
    src: SimHost,
  ): { target: string } | { reason: string; unreachable: boolean } {
    if (verb === "drain") return chooseTarget(this.world, w.spec, w.home, src);
    const home = this.world.simHost(host) as SimHost;
    const why = this.world.unreachable(home);
    if (why !== undefined) return { reason: `home ${host} unreachable (${why})`, unreachable: true };
    const no = refusal(this.world, w.spec, host);
    return no === undefined ? { target: host } : { reason: `no room at home: ${no}`, unreachable: false };
  }

  /** Why a host of a move broke it between `start` and now, if it did. */
  private broke(h: SimHost, role: string, boots: number, start: number): string | undefined {
    const why = this.world.unreachable(h);
    if (why !== undefined)
      return `${role} ${h.host.name} ${why === "partitioned" ? "partitioned" : `went down (${why})`}`;
    if (h.boots !== boots) return `${role} ${h.host.name} rebooted during the move`;
    if (this.world.partitioned(h, start, this.world.clock.now()))
      return `${role} ${h.host.name} was partitioned during the move`;
    return undefined;
  }

  /** Ledger entries for the network volumes of a move. */
  private volumes(w: Workload, target: string, command: string, from: string): void {
    for (const v of w.volumes) {
      if (!v.network) continue;
      if (v.attachedTo === undefined) {
        if (command === "@volume-rw")
          this.world.append({
            host: target,
            command: "@volume-move",
            workload: w.id,
            outcome: `${v.id} from ${from}`,
          });
        continue;
      }
      this.world.append({ host: target, command, workload: w.id, outcome: v.id });
    }
  }

  private slotOf(id: string): MoveSlot {
    let slot = this.slots.get(id);
    if (!slot) {
      slot = {
        w: this.world.workload(id) as SimWorkload,
        rnd: seededRandom(hashOf(`${this.world.scenario.seed}/move/${id}`)),
        moving: undefined,
      };
      this.slots.set(id, slot);
    }
    return slot;
  }
}

function noop(): void {}

function unplaced(reason: string, unreachable = false): Outcome {
  return { kind: "unplaced", reason, unreachable };
}
