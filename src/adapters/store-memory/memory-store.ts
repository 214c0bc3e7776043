/**
 * An in-memory `Store`: the reference implementation of the port's semantics, used by engine
 * tests and by simulations that do not need durability. Not durable, by definition.
 *
 * Invariants: the same as every Store (see ports/store.ts) except durability; every method copies
 * records in and out so callers can never mutate the stored state by reference.
 *
 * Records are copied field by field (their JSON parts with `clone`): an object made by
 * `structuredClone` (or spread from one) gets a slow, dictionary-like shape in V8, and the
 * engine reads host records on every tick (a 2,000-host simulation: ~0.5 µs per field read).
 * Non-terminal host flows are indexed per run (`live`), so `acquireLeases` never scans the hosts
 * a run has finished with.
 *
 * Leases expire with their holder, as in the SQL store: one expiry per (run, owner) in `holders`,
 * which renewing sets; a host flow's own `leaseExpiresAt` is the expiry it was granted with, and
 * records read out carry the holder's.
 */
import { type HostInRun, hostsInOtherRuns, LeaseLostError } from "../../core/errors.js";
import { CLAIMING_HOST_STATES, isTerminalHost, isTerminalRun } from "../../core/flow/states.js";
import type {
  AttemptRecord,
  EventRecord,
  HostCommit,
  HostFlowFields,
  HostFlowRecord,
  NewEvent,
  NewHostFlow,
  NewRun,
  PlanRevisionRecord,
  RunRecord,
  Store,
} from "../../ports/store.js";
import { MemoryAccessStore } from "./memory-access.js";

/**
 * A deep copy. Records hold JSON values: plain objects, arrays and primitives are copied here
 * (several times faster than `structuredClone` on small values, and the copies get fast shapes);
 * anything else (a Date, a function, a Map) goes through `structuredClone`, which copies or rejects
 * it as before. No cycles: JSON has none. A plain object is first copied whole with a spread (one
 * step, and the copy has the shape of the original, not one built key by key), then its values
 * that are objects are replaced by their copies.
 */
function clone<T>(v: T): T {
  if (v === null || (typeof v !== "object" && typeof v !== "function")) return v;
  if (Array.isArray(v)) return v.map(clone) as T;
  if (typeof v === "function" || Object.getPrototypeOf(v) !== Object.prototype) return structuredClone(v);
  const out: Record<string, unknown> = { ...(v as Record<string, unknown>) };
  for (const k in out) {
    const x = out[k];
    if (typeof x === "object" && x !== null && Object.hasOwn(out, k)) out[k] = clone(x);
    else if (typeof x === "function") out[k] = clone(x);
  }
  return out as T;
}

function copyRun(r: RunRecord): RunRecord {
  return {
    id: r.id,
    planName: r.planName,
    planRevision: r.planRevision,
    planHash: r.planHash,
    state: r.state,
    currentWave: r.currentWave,
    seed: r.seed,
    options: clone(r.options),
    reason: r.reason,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  };
}

function copyHost(h: HostFlowRecord): HostFlowRecord {
  return {
    runId: h.runId,
    host: h.host,
    wave: h.wave,
    order: h.order,
    data: clone(h.data),
    state: h.state,
    stepIndex: h.stepIndex,
    phase: h.phase,
    attempts: h.attempts,
    notBefore: h.notBefore,
    noReturnIndex: h.noReturnIndex,
    startedAt: h.startedAt,
    finishedAt: h.finishedAt,
    reason: h.reason,
    leaseOwner: h.leaseOwner,
    leaseToken: h.leaseToken,
    leaseExpiresAt: h.leaseExpiresAt,
  };
}

function copyAttempt(a: AttemptRecord): AttemptRecord {
  return {
    runId: a.runId,
    host: a.host,
    seq: a.seq,
    stepIndex: a.stepIndex,
    stepName: a.stepName,
    phase: a.phase,
    number: a.number,
    state: a.state,
    token: a.token,
    pre: clone(a.pre),
    result: clone(a.result),
    startedAt: a.startedAt,
    finishedAt: a.finishedAt,
  };
}

/** A copy of an event numbered `seq` (on the way in, a `NewEvent` gets its number here). */
function copyEvent(e: NewEvent, seq: number): EventRecord {
  return {
    seq,
    runId: e.runId,
    host: e.host,
    at: e.at,
    type: e.type,
    actor: e.actor,
    data: clone(e.data),
  };
}

export class MemoryStore implements Store {
  readonly access = new MemoryAccessStore();
  private plans: PlanRevisionRecord[] = [];
  private runs = new Map<string, RunRecord>();
  private hosts = new Map<string, Map<string, HostFlowRecord>>();
  /** run -> its host flows that are not terminal (what `acquireLeases` looks at). */
  private live = new Map<string, Set<HostFlowRecord>>();
  /** run -> host -> the host's attempts, in insertion order (indexed: a commit touches one host). */
  private attempts = new Map<string, Map<string, AttemptRecord[]>>();
  private events: EventRecord[] = [];
  private seq = 0;
  /** run -> owner -> when every lease it holds in the run expires. */
  private holders = new Map<string, Map<string, number>>();

  async migrate(): Promise<void> {}
  async close(): Promise<void> {}

  private push(events: NewEvent[] | undefined): void {
    for (const e of events ?? []) this.events.push(copyEvent(e, ++this.seq));
  }

  async savePlanRevision(input: {
    name: string;
    hash: string;
    body: string;
    createdAt: number;
  }): Promise<PlanRevisionRecord> {
    const same = this.plans.find((p) => p.name === input.name && p.hash === input.hash);
    if (same) return clone(same);
    const revision = this.plans.filter((p) => p.name === input.name).length + 1;
    const rec = { ...input, revision };
    this.plans.push(rec);
    return clone(rec);
  }
  async getPlanRevision(name: string, revision: number): Promise<PlanRevisionRecord | undefined> {
    const p = this.plans.find((x) => x.name === name && x.revision === revision);
    return p && clone(p);
  }
  async listPlanRevisions(name?: string): Promise<PlanRevisionRecord[]> {
    return clone(this.plans.filter((p) => name === undefined || p.name === name));
  }

  async createRun(
    run: NewRun,
    hosts: NewHostFlow[],
    events: NewEvent[],
    opts: { exclusive?: boolean } = {},
  ): Promise<void> {
    if (this.runs.has(run.id)) throw new Error(`run ${run.id} exists`);
    if (opts.exclusive) this.refuseHeldHosts(hosts.map((h) => h.host));
    if (new Set(hosts.map((h) => h.host)).size !== hosts.length)
      throw new Error(`run ${run.id} lists a host twice`);
    if (hosts.some((h) => h.runId !== run.id))
      throw new Error(`a host flow of run ${run.id} names another run`);
    if (!this.plans.some((p) => p.name === run.planName && p.revision === run.planRevision)) {
      throw new Error(`plan ${run.planName}@${run.planRevision} is not saved`);
    }
    this.runs.set(run.id, copyRun(run));
    const m = new Map<string, HostFlowRecord>();
    const live = new Set<HostFlowRecord>();
    for (const h of hosts) {
      const rec = copyHost({ ...h, leaseOwner: null, leaseToken: 0, leaseExpiresAt: null });
      m.set(h.host, rec);
      if (!isTerminalHost(rec.state)) live.add(rec);
    }
    this.hosts.set(run.id, m);
    this.live.set(run.id, live);
    this.attempts.set(run.id, new Map());
    this.push(events);
  }
  async getRun(runId: string): Promise<RunRecord | undefined> {
    const r = this.runs.get(runId);
    return r && copyRun(r);
  }
  async listRuns(limit?: number, filter: { unfinished?: boolean } = {}): Promise<RunRecord[]> {
    const all = [...this.runs.values()].reverse();
    const kept = filter.unfinished ? all.filter((r) => !isTerminalRun(r.state)) : all;
    return kept.slice(0, limit ?? kept.length).map(copyRun);
  }
  async getHosts(runId: string): Promise<HostFlowRecord[]> {
    return [...(this.hosts.get(runId)?.values() ?? [])]
      .sort((a, b) => a.order - b.order)
      .map((h) => this.copyOut(h));
  }
  async getHost(runId: string, host: string): Promise<HostFlowRecord | undefined> {
    const h = this.hosts.get(runId)?.get(host);
    return h && this.copyOut(h);
  }

  /** A copy of a stored host flow with its lease's effective expiry (see the header). */
  private copyOut(h: HostFlowRecord): HostFlowRecord {
    const c = copyHost(h);
    c.leaseExpiresAt = this.expiryOf(h);
    return c;
  }

  private expiryOf(h: HostFlowRecord): number | null {
    if (h.leaseOwner === null) return h.leaseExpiresAt;
    return this.holders.get(h.runId)?.get(h.leaseOwner) ?? h.leaseExpiresAt;
  }
  async getAttempts(runId: string, host?: string): Promise<AttemptRecord[]> {
    const byHost = this.attempts.get(runId);
    if (!byHost) return [];
    const hosts =
      host === undefined ? [...byHost.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)) : [host];
    const out: AttemptRecord[] = [];
    for (const h of hosts) {
      const list = byHost.get(h);
      if (list) for (const a of [...list].sort((x, y) => x.seq - y.seq)) out.push(copyAttempt(a));
    }
    return out;
  }
  /** Index of the first event with seq > `afterSeq` (`events` is in seq order). */
  private firstAfter(afterSeq: number): number {
    const list = this.events;
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((list[mid] as EventRecord).seq <= afterSeq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
  async feedSince(
    runId: string,
    afterSeq: number,
    actor: string,
  ): Promise<{ lastSeq: number; foreign: boolean }> {
    let lastSeq = afterSeq;
    let foreign = false;
    const list = this.events;
    for (let i = this.firstAfter(afterSeq); i < list.length; i++) {
      const e = list[i] as EventRecord;
      if (e.runId !== runId) continue;
      lastSeq = e.seq;
      if (e.actor !== actor) foreign = true;
    }
    return { lastSeq, foreign };
  }
  async listEvents(runId: string, afterSeq = 0, limit = Number.MAX_SAFE_INTEGER): Promise<EventRecord[]> {
    const list = this.events;
    const out: EventRecord[] = [];
    for (let i = this.firstAfter(afterSeq); i < list.length && out.length < limit; i++) {
      const e = list[i] as EventRecord;
      if (e.runId === runId) out.push(copyEvent(e, e.seq));
    }
    return out;
  }

  /** The exclusive check of `createRun` / `updateRun` (see the port), the SQL store's in memory. */
  private refuseHeldHosts(hosts: readonly string[], self?: string, what?: string): void {
    const busy: HostInRun[] = [];
    for (const host of hosts)
      for (const [runId, flows] of this.hosts) {
        const other = this.runs.get(runId);
        const f = flows.get(host);
        if (runId === self || !other || !f) continue;
        if (!isTerminalRun(other.state) && CLAIMING_HOST_STATES.includes(f.state))
          busy.push({ host, runId, runState: other.state, hostState: f.state });
      }
    if (busy.length > 0) throw hostsInOtherRuns(busy, what);
  }

  async updateRun(
    runId: string,
    expect: readonly RunRecord["state"][],
    patch: Partial<Pick<RunRecord, "state" | "currentWave" | "reason" | "updatedAt">>,
    events: NewEvent[],
    opts: { exclusive?: boolean } = {},
  ): Promise<boolean> {
    const r = this.runs.get(runId);
    if (!r || !expect.includes(r.state)) return false;
    if (opts.exclusive) {
      const mine = [...(this.hosts.get(runId)?.values() ?? [])]
        .filter((h) => CLAIMING_HOST_STATES.includes(h.state))
        .map((h) => h.host);
      this.refuseHeldHosts(mine, runId, `run ${runId} does not go on`);
    }
    Object.assign(r, clone(patch));
    this.push(events);
    return true;
  }

  async acquireLeases(runId: string, owner: string, now: number, ttlMs: number): Promise<HostFlowRecord[]> {
    const out: HostFlowRecord[] = [];
    // Terminal host flows are never granted: look only at the live ones.
    for (const h of this.live.get(runId) ?? []) {
      const free = h.leaseOwner === null || (this.expiryOf(h) ?? 0) <= now;
      if (!free || h.leaseOwner === owner) continue;
      h.leaseOwner = owner;
      h.leaseToken += 1;
      h.leaseExpiresAt = now + ttlMs;
      out.push(copyHost(h));
    }
    if (out.length > 0) this.holderExpires(runId, owner, now + ttlMs);
    return out.sort((a, b) => a.order - b.order);
  }
  private holderExpires(runId: string, owner: string, at: number): void {
    let m = this.holders.get(runId);
    if (!m) {
      m = new Map();
      this.holders.set(runId, m);
    }
    m.set(owner, at);
  }
  async renewLeases(runId: string, owner: string, now: number, ttlMs: number): Promise<number> {
    let n = 0;
    for (const h of this.hosts.get(runId)?.values() ?? []) if (h.leaseOwner === owner) n++;
    if (n > 0) this.holderExpires(runId, owner, now + ttlMs);
    return n;
  }
  async releaseLeases(runId: string, owner: string): Promise<void> {
    for (const h of this.hosts.get(runId)?.values() ?? []) {
      if (h.leaseOwner === owner) {
        h.leaseOwner = null;
        h.leaseExpiresAt = null;
      }
    }
    this.holders.get(runId)?.delete(owner);
  }

  /** Apply a patch to a stored host flow, keeping `live` in step with its state. */
  private patchHost(runId: string, h: HostFlowRecord, patch: Partial<HostFlowFields>): void {
    Object.assign(h, clone(patch));
    const live = this.live.get(runId);
    if (!live) return;
    if (isTerminalHost(h.state)) live.delete(h);
    else live.add(h);
  }

  async commitHost(c: HostCommit): Promise<void> {
    const h = this.hosts.get(c.runId)?.get(c.host);
    if (!h || h.leaseOwner !== c.owner || h.leaseToken !== c.token) {
      throw new LeaseLostError(
        `lease on ${c.host} in run ${c.runId} is no longer held by ${c.owner}/${c.token}`,
      );
    }
    const byHost = this.attempts.get(c.runId) as Map<string, AttemptRecord[]>;
    const list = byHost.get(c.host) ?? [];
    // Validate everything first: the commit is all or nothing.
    if (c.intent) {
      if (c.intent.host !== c.host || c.intent.runId !== c.runId)
        throw new Error("intent names another host flow");
      if (list.some((a) => a.seq === c.intent?.seq)) {
        throw new Error(`attempt ${c.host}#${c.intent.seq} exists`);
      }
    }
    if (c.result) {
      const target = list.find((x) => x.seq === c.result?.seq);
      const fromIntent = c.intent !== undefined && c.intent.seq === c.result.seq;
      if (!target && !fromIntent) throw new Error(`attempt ${c.host}#${c.result.seq} does not exist`);
      if (target && target.state !== "started")
        throw new Error(`attempt ${c.host}#${c.result.seq} is already ${target.state}`);
    }
    this.patchHost(c.runId, h, c.patch ?? {});
    if (c.intent) {
      list.push(copyAttempt({ ...c.intent, finishedAt: null, result: null }));
      byHost.set(c.host, list);
    }
    if (c.result) {
      const a = list.find((x) => x.seq === c.result?.seq);
      if (a)
        Object.assign(a, {
          state: c.result.state,
          finishedAt: c.result.finishedAt,
          result: clone(c.result.result),
        });
    }
    this.push(c.events);
  }

  async operatorHost(
    runId: string,
    host: string,
    expect: readonly HostFlowRecord["state"][],
    patch: Partial<HostFlowFields>,
    events: NewEvent[],
  ): Promise<boolean> {
    const h = this.hosts.get(runId)?.get(host);
    if (!h || !expect.includes(h.state)) return false;
    this.patchHost(runId, h, patch);
    h.leaseOwner = null;
    h.leaseExpiresAt = null;
    h.leaseToken += 1;
    this.push(events);
    return true;
  }
}
