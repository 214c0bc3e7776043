/**
 * An in-memory `Store`: the reference implementation of the port's semantics, used by engine
 * tests and by simulations that do not need durability. Not durable, by definition.
 *
 * Invariants: the same as every Store (see ports/store.ts) except durability; every method copies
 * records in and out so callers can never mutate the stored state by reference.
 */
import { LeaseLostError } from "../../core/errors.js";
import { isTerminalHost } from "../../core/flow/states.js";
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

const clone = <T>(v: T): T => structuredClone(v);

export class MemoryStore implements Store {
  private plans: PlanRevisionRecord[] = [];
  private runs = new Map<string, RunRecord>();
  private hosts = new Map<string, Map<string, HostFlowRecord>>();
  private attempts = new Map<string, AttemptRecord[]>();
  private events: EventRecord[] = [];
  private seq = 0;

  async migrate(): Promise<void> {}
  async close(): Promise<void> {}

  private push(events: NewEvent[] | undefined): void {
    for (const e of events ?? []) this.events.push({ ...clone(e), seq: ++this.seq });
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

  async createRun(run: NewRun, hosts: NewHostFlow[], events: NewEvent[]): Promise<void> {
    if (this.runs.has(run.id)) throw new Error(`run ${run.id} exists`);
    if (new Set(hosts.map((h) => h.host)).size !== hosts.length)
      throw new Error(`run ${run.id} lists a host twice`);
    if (hosts.some((h) => h.runId !== run.id))
      throw new Error(`a host flow of run ${run.id} names another run`);
    if (!this.plans.some((p) => p.name === run.planName && p.revision === run.planRevision)) {
      throw new Error(`plan ${run.planName}@${run.planRevision} is not saved`);
    }
    this.runs.set(run.id, clone(run));
    const m = new Map<string, HostFlowRecord>();
    for (const h of hosts)
      m.set(h.host, { ...clone(h), leaseOwner: null, leaseToken: 0, leaseExpiresAt: null });
    this.hosts.set(run.id, m);
    this.attempts.set(run.id, []);
    this.push(events);
  }
  async getRun(runId: string): Promise<RunRecord | undefined> {
    const r = this.runs.get(runId);
    return r && clone(r);
  }
  async listRuns(limit = 100): Promise<RunRecord[]> {
    return clone([...this.runs.values()].reverse().slice(0, limit));
  }
  async getHosts(runId: string): Promise<HostFlowRecord[]> {
    return clone([...(this.hosts.get(runId)?.values() ?? [])].sort((a, b) => a.order - b.order));
  }
  async getHost(runId: string, host: string): Promise<HostFlowRecord | undefined> {
    const h = this.hosts.get(runId)?.get(host);
    return h && clone(h);
  }
  async getAttempts(runId: string, host?: string): Promise<AttemptRecord[]> {
    const list = (this.attempts.get(runId) ?? []).filter((a) => host === undefined || a.host === host);
    return clone(list.sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : a.seq - b.seq)));
  }
  async listEvents(runId: string, afterSeq = 0, limit = Number.MAX_SAFE_INTEGER): Promise<EventRecord[]> {
    return clone(this.events.filter((e) => e.runId === runId && e.seq > afterSeq).slice(0, limit));
  }

  async updateRun(
    runId: string,
    expect: readonly RunRecord["state"][],
    patch: Partial<Pick<RunRecord, "state" | "currentWave" | "reason" | "updatedAt">>,
    events: NewEvent[],
  ): Promise<boolean> {
    const r = this.runs.get(runId);
    if (!r || !expect.includes(r.state)) return false;
    Object.assign(r, clone(patch));
    this.push(events);
    return true;
  }

  async acquireLeases(runId: string, owner: string, now: number, ttlMs: number): Promise<HostFlowRecord[]> {
    const out: HostFlowRecord[] = [];
    for (const h of this.hosts.get(runId)?.values() ?? []) {
      if (isTerminalHost(h.state)) continue;
      const free = h.leaseOwner === null || (h.leaseExpiresAt ?? 0) <= now;
      if (!free || h.leaseOwner === owner) continue;
      h.leaseOwner = owner;
      h.leaseToken += 1;
      h.leaseExpiresAt = now + ttlMs;
      out.push(clone(h));
    }
    return out.sort((a, b) => a.order - b.order);
  }
  async renewLeases(runId: string, owner: string, now: number, ttlMs: number): Promise<number> {
    let n = 0;
    for (const h of this.hosts.get(runId)?.values() ?? []) {
      if (h.leaseOwner === owner) {
        h.leaseExpiresAt = now + ttlMs;
        n++;
      }
    }
    return n;
  }
  async releaseLeases(runId: string, owner: string): Promise<void> {
    for (const h of this.hosts.get(runId)?.values() ?? []) {
      if (h.leaseOwner === owner) {
        h.leaseOwner = null;
        h.leaseExpiresAt = null;
      }
    }
  }

  async commitHost(c: HostCommit): Promise<void> {
    const h = this.hosts.get(c.runId)?.get(c.host);
    if (!h || h.leaseOwner !== c.owner || h.leaseToken !== c.token) {
      throw new LeaseLostError(
        `lease on ${c.host} in run ${c.runId} is no longer held by ${c.owner}/${c.token}`,
      );
    }
    const list = this.attempts.get(c.runId) as AttemptRecord[];
    // Validate everything first: the commit is all or nothing.
    if (c.intent) {
      if (c.intent.host !== c.host || c.intent.runId !== c.runId)
        throw new Error("intent names another host flow");
      if (list.some((a) => a.host === c.host && a.seq === c.intent?.seq)) {
        throw new Error(`attempt ${c.host}#${c.intent.seq} exists`);
      }
    }
    if (c.result) {
      const target = list.find((x) => x.host === c.host && x.seq === c.result?.seq);
      const fromIntent = c.intent !== undefined && c.intent.seq === c.result.seq;
      if (!target && !fromIntent) throw new Error(`attempt ${c.host}#${c.result.seq} does not exist`);
      if (target && target.state !== "started")
        throw new Error(`attempt ${c.host}#${c.result.seq} is already ${target.state}`);
    }
    Object.assign(h, clone(c.patch ?? {}));
    if (c.intent) list.push({ ...clone(c.intent), finishedAt: null, result: null });
    if (c.result) {
      const a = list.find((x) => x.host === c.host && x.seq === c.result?.seq);
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
    Object.assign(h, clone(patch));
    h.leaseOwner = null;
    h.leaseExpiresAt = null;
    h.leaseToken += 1;
    this.push(events);
    return true;
  }
}
