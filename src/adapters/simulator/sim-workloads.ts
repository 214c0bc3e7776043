/**
 * `SimWorkloads`: the `Workloads` port on a simulated world. `drain` moves every workload off a
 * host onto others of its region (hold-overs first, see placement.ts); `reinstate` brings the
 * workloads whose home is the host back to it.
 *
 * Invariants:
 * - Idempotent: each call moves only what still needs to move (drain: what runs on the host now;
 *   reinstate: what has this home and runs elsewhere), so a re-run after a crash moves nothing new.
 * - At most PARALLEL moves of one call run at once. A move reserves the target's capacity when it
 *   starts and releases it at its end, so concurrent moves never overfill a host.
 * - A move is all or nothing: at cut-over the ledger gets `@unplace` (source) then `@place`
 *   (target) at the same instant, outcome = mode; a move that cannot finish leaves the workload
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
  moving: Promise<Outcome> | undefined;
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

  private async run(
    verb: Verb,
    host: string,
    ids: string[],
    opts: WorkloadsOptions,
  ): Promise<WorkloadsResult> {
    const result: WorkloadsResult = { moves: [], unplaced: [] };
    let reachableFailures = 0;
    let next = 0;
    const worker = async () => {
      while (next < ids.length && !opts.signal.aborted) {
        const id = ids[next++] as string;
        const o = await this.move(verb, host, id, opts);
        if (o.kind === "moved") result.moves.push(o.move);
        else if (o.kind === "unplaced") {
          result.unplaced.push({ workload: id, reason: o.reason });
          if (!o.unreachable) reachableFailures++;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(PARALLEL, ids.length) }, worker));
    if (opts.signal.aborted) throw opts.signal.reason;
    if (result.moves.length === 0 && result.unplaced.length > 0 && reachableFailures === 0) {
      const why = result.unplaced.map((u) => `${u.workload}: ${u.reason}`).slice(0, 3);
      throw new TransportError(
        "unreachable",
        `sim: ${verb} of ${host}: nothing could be done (${why.join("; ")})`,
      );
    }
    return result;
  }

  /** One workload's move, once no other move of it is in flight (see the header). */
  private async move(verb: Verb, host: string, id: string, opts: WorkloadsOptions): Promise<Outcome> {
    const slot = this.slotOf(id);
    for (let m = slot.moving; m !== undefined; m = slot.moving) {
      await settledOrAborted(m, opts.signal);
      if (opts.signal.aborted) return { kind: "nothing" };
    }
    const done = this.moveOnce(verb, host, slot, opts);
    slot.moving = done;
    try {
      return await done;
    } finally {
      if (slot.moving === done) slot.moving = undefined;
    }
  }

  /** One workload's move, from its start to its cut-over (or to its clean failure). */
  private async moveOnce(verb: Verb, host: string, slot: MoveSlot, opts: WorkloadsOptions): Promise<Outcome> {
    const { world } = this;
    const { w } = slot;
    const id = w.spec.id;
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
    const boots = { src: src.boots, tgt: tgt.boots };
    world.reserve(tgt.host.name, w);
    this.volumes(w.spec, tgt.host.name, "@volume-ro", from);
    // One timer to the cut-over. Only the live pre-copy can be cancelled (the workload still runs
    // untouched on the source): an abort before its end drops the move; one during the blackout
    // (or during a cold move) does not stop it, and the move runs to its cut-over.
    const blackout = start + t.preCopyMs;
    const cutover = blackout + t.downtimeMs;
    try {
      await world.clock.sleep(cutover - start, t.preCopyMs > 0 ? opts.signal : undefined);
    } catch {
      if (world.clock.now() < blackout) {
        world.release(tgt.host.name, w);
        this.volumes(w.spec, tgt.host.name, "@volume-drop", from);
        return { kind: "nothing" };
      }
      await world.clock.sleep(cutover - world.clock.now());
    }
    world.release(tgt.host.name, w);
    const broken =
      this.broke(tgt, "target", boots.tgt, start) ??
      this.broke(src, "source", boots.src, start) ??
      (w.lost ? `lost with ${from}` : undefined);
    // A live migration needs the workload running on the source; a cold copy does not check.
    const gone = mode === "live" && !w.on.includes(from) ? `no longer running on ${from}` : undefined;
    if (broken !== undefined || gone !== undefined) {
      this.volumes(w.spec, tgt.host.name, "@volume-drop", from);
      return unplaced(`${mode} move to ${tgt.host.name} failed: ${broken ?? gone}`, broken !== undefined);
    }
    // A cold move whose workload already left the source (another call moved it) still starts it.
    if (w.on.includes(from)) world.unplace(w, from, mode);
    world.place(w, tgt.host.name, mode);
    this.volumes(w.spec, tgt.host.name, "@volume-rw", from);
    return {
      kind: "moved",
      move: { workload: id, from, to: tgt.host.name, mode, downtimeMs: t.downtimeMs },
    };
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

/** Resolves when `p` settles or `signal` aborts, whichever comes first. */
function settledOrAborted(p: Promise<unknown>, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      signal.removeEventListener("abort", done);
      resolve();
    };
    signal.addEventListener("abort", done, { once: true });
    p.then(done, done);
  });
}

function unplaced(reason: string, unreachable = false): Outcome {
  return { kind: "unplaced", reason, unreachable };
}
