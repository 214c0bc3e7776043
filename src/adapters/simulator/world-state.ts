/**
 * The state of a simulated world: its hosts (up, booting, dead), where each workload runs, the
 * capacity reserved by moves in flight, and the one ledger every simulated effect is written to.
 * `SimWorld` (world.ts) adds the ports on top; the transport, workloads and health adapters all
 * act on this state, so they see one consistent world.
 *
 * Invariants:
 * - Time comes only from the injected `Clock`; randomness only from seeded PRNGs (per host, per
 *   workload), so the same inputs give the same world and the same ledger.
 * - The ledger is append-only and ordered by `at`: before anything is appended, every boot that
 *   has finished by now is recorded (`@up` at its own time), and entries are stamped with `now`.
 * - A workload runs on the hosts in its `on` list: exactly one normally, none once lost, two or
 *   more only when the engine caused it (e.g. two concurrent drains with cold moves). Nothing here
 *   hides such a state; the ledger's `@place`/`@unplace` show it to the invariant checker.
 * - A host that dies takes the workloads running on it with it: one `@lost` entry each, and they
 *   run nowhere afterwards. A host that only goes down (reboot, power trip) keeps its workloads.
 * - Scenario times (`partition.from`) are relative to the world's start time `t0`.
 * - Indexes and caches only, never a second source of truth (a 2,000-host world asks these
 *   questions for every workload it moves): hosts by region and workloads by home keep the
 *   fleet's order; a host's residents are recomputed, the same way, after any change to what runs
 *   on it or moves towards it; the hosts holding each home's workloads are counted as they come
 *   and go (whole numbers: exact); a host's capacity in use is summed as workloads come and go
 *   when every size is a multiple of 1/1024 (binary fractions: every partial sum is exact, so the
 *   order of the additions cannot matter), and recomputed like the residents otherwise; `nextUp`
 *   is a lower bound of the booting hosts' `upAt`, so `sync` has nothing to look at before it.
 */
import { InputError } from "../../core/errors.js";
import type { Capacity, Fleet, Workload } from "../../core/model/fleet.js";
import type { LedgerEntry } from "../../core/sim/ledger.js";
import type { FailureSpec, Scenario } from "../../core/sim/scenario.js";
import { DEFAULT_CAPACITY } from "../../core/sim/workload-gen.js";
import type { Clock } from "../../ports/clock.js";
import { bootIdOf, diskDies, failuresFor, newSimHost, type SimHost } from "./sim-host.js";

const KEXEC_MS = { min: 10_000, max: 30_000 };

interface ResidencyCache {
  used: Capacity | undefined;
  residents: Workload[] | undefined;
}

export interface SimWorkload {
  spec: Workload;
  /** The host it started on; `reinstate(home)` brings it back there. */
  home: string;
  /** Hosts it runs on now. */
  on: string[];
  lost: boolean;
}

export class WorldState {
  readonly ledger: LedgerEntry[] = [];
  /** Virtual time the world started; the initial placement is recorded at it. */
  readonly t0: number;
  private readonly simHosts = new Map<string, SimHost>();
  /** region -> its hosts, in fleet order. */
  private readonly byRegion = new Map<string, SimHost[]>();
  /** The hold-overs of each region, in fleet order (a subsequence of `byRegion`'s). */
  private readonly holdoversByRegion = new Map<string, SimHost[]>();
  private readonly booting = new Set<SimHost>();
  /** At most the earliest `upAt` of a booting host (see the header). */
  private nextUp = Number.POSITIVE_INFINITY;
  private readonly loads = new Map<string, SimWorkload>();
  /** home host -> the workloads that call it home, by id. */
  private readonly byHome = new Map<string, SimWorkload[]>();
  /** The scenario's failures of each host (`failuresFor`, computed once per host). */
  private readonly failures = new Map<SimHost, FailureSpec[]>();
  /** host -> what `used` / `residents` computed since the last change on it. */
  private readonly cache = new Map<string, ResidencyCache>();
  /** home -> host -> how many of the host's residents (`residents`) have that home. */
  private readonly holders = new Map<string, Map<string, number>>();
  /** Every workload size is a binary fraction: `used` is kept as a running sum (see the header). */
  private readonly exactSums: boolean;
  /** host -> capacity in use, when `exactSums`. */
  private readonly usage = new Map<string, Capacity>();
  /** host -> ids of the workloads running on it. */
  private readonly running = new Map<string, Set<string>>();
  /** host -> workloads moving onto it (capacity held from the start of the move). */
  private readonly reserved = new Map<string, Workload[]>();
  /** Hosts that take no workloads: drained and not reinstated yet. */
  readonly cordoned = new Set<string>();

  constructor(
    readonly clock: Clock,
    fleet: Fleet,
    readonly scenario: Scenario,
  ) {
    this.t0 = clock.now();
    for (const h of fleet.hosts) {
      const sh = newSimHost(h, scenario.seed);
      this.simHosts.set(h.name, sh);
      this.running.set(h.name, new Set());
      this.usage.set(h.name, { cpu: 0, memoryMb: 0, diskGb: 0 });
      const peers = this.byRegion.get(h.region) ?? [];
      peers.push(sh);
      this.byRegion.set(h.region, peers);
      if (h.role === "holdover") {
        const spare = this.holdoversByRegion.get(h.region) ?? [];
        spare.push(sh);
        this.holdoversByRegion.set(h.region, spare);
      }
    }
    const problems = fleet.workloads.flatMap((w, i) =>
      this.loads.has(w.id)
        ? [{ path: `workloads[${i}].id`, message: `duplicate workload id "${w.id}"` }]
        : this.simHosts.has(w.host)
          ? []
          : [{ path: `workloads[${i}].host`, message: `workload ${w.id} is on unknown host "${w.host}"` }],
    );
    if (problems.length > 0) throw new InputError(problems);
    this.exactSums = fleet.workloads.every(
      (w) => binaryFraction(w.cpu) && binaryFraction(w.memoryMb) && binaryFraction(w.diskGb),
    );
    for (const w of fleet.workloads) {
      const sw: SimWorkload = { spec: w, home: w.host, on: [], lost: false };
      this.loads.set(w.id, sw);
      const homed = this.byHome.get(w.host) ?? [];
      homed.push(sw);
      this.byHome.set(w.host, homed);
      this.place(w.id, w.host, "initial");
    }
    for (const list of this.byHome.values()) list.sort((a, b) => (a.spec.id < b.spec.id ? -1 : 1));
  }

  // --- hosts ---------------------------------------------------------------------------------

  /** The simulated host, with finished boots applied; undefined for a host not in the world. */
  simHost(name: string): SimHost | undefined {
    this.sync();
    return this.simHosts.get(name);
  }

  allHosts(): SimHost[] {
    this.sync();
    return [...this.simHosts.values()];
  }

  /** The hosts of a region, in fleet order (do not modify), with finished boots applied. */
  regionHosts(region: string): readonly SimHost[] {
    this.sync();
    return this.byRegion.get(region) ?? [];
  }

  /** The hold-overs of a region, in fleet order (do not modify), with finished boots applied. */
  regionHoldovers(region: string): readonly SimHost[] {
    this.sync();
    return this.holdoversByRegion.get(region) ?? [];
  }

  /** Bring lazy state up to now: hosts whose boot finished are `up` (with their `@up` entry). */
  sync(): void {
    if (this.booting.size === 0) return;
    const now = this.clock.now();
    if (now < this.nextUp) return;
    const done = [...this.booting]
      .filter((h) => h.upAt <= now)
      .sort((a, b) => a.upAt - b.upAt || (a.host.name < b.host.name ? -1 : 1));
    for (const h of done) {
      this.booting.delete(h);
      h.state = "up";
      h.boots++;
      h.bootId = bootIdOf(h);
      this.ledger.push({ at: h.upAt, host: h.host.name, command: "@up", outcome: h.bootId });
    }
    let next = Number.POSITIVE_INFINITY;
    for (const h of this.booting) if (h.upAt < next) next = h.upAt;
    this.nextUp = next;
  }

  /** Why the coordinator cannot reach the host at `at` (`booting`, `dead`, `partitioned`), if so. */
  unreachable(h: SimHost, at = this.clock.now()): string | undefined {
    this.sync();
    if (h.state !== "up") return h.state;
    return this.partitioned(h, at, at) ? "partitioned" : undefined;
  }

  /** The failures of the scenario that target this host (do not modify). */
  failuresOf(h: SimHost): readonly FailureSpec[] {
    let fs = this.failures.get(h);
    if (!fs) {
      fs = failuresFor(this.scenario, h.host);
      this.failures.set(h, fs);
    }
    return fs;
  }

  /** Is the host cut off by a partition at some instant of [from, to]? */
  partitioned(h: SimHost, from: number, to: number): boolean {
    for (const f of this.failuresOf(h))
      if (f.kind === "partition" && to - this.t0 >= f.from && from - this.t0 < f.until) return true;
    return false;
  }

  /** The host reboots now: down at once, up after a seeded boot time, unless a failure says otherwise. */
  reboot(h: SimHost): void {
    const now = this.clock.now();
    const fs = this.failuresOf(h);
    const dies = fs.some((f) => f.kind === "never-returns" || (f.kind === "disk-dies" && diskDies(h, f)));
    this.startBoot(h, now);
    this.append({ host: h.host.name, command: "@down", outcome: "reboot" });
    if (dies) {
      this.kill(h, "never returns");
      return;
    }
    h.healthy = !fs.some((f) => f.kind === "unhealthy");
    const skew = fs.find((f) => f.kind === "clock-skew");
    h.skewSeconds = skew?.kind === "clock-skew" ? skew.seconds : 0;
    for (const f of fs) if (f.kind === "power-trip") this.maybeTrip(h, f, now);
  }

  /** The host dies: it never answers again, and the workloads on it are lost. */
  kill(h: SimHost, why: string): void {
    this.booting.delete(h);
    h.state = "dead";
    this.append({ host: h.host.name, command: "@dead", outcome: why });
    for (const id of this.runningOn(h.host.name)) {
      const w = this.loads.get(id) as SimWorkload;
      if (this.running.get(h.host.name)?.delete(id)) this.arrived(h.host.name, w.spec, -1);
      this.invalidate(h.host.name);
      w.on = w.on.filter((x) => x !== h.host.name);
      if (w.on.length === 0) w.lost = true;
      this.append({ host: h.host.name, command: "@lost", workload: id, outcome: `host died (${why})` });
    }
  }

  private startBoot(h: SimHost, from: number): void {
    const { min, max } = this.scenario.boot.kexec ? KEXEC_MS : this.scenario.boot;
    h.state = "booting";
    h.upAt = from + min + Math.floor(h.rnd.next() * (max - min + 1));
    this.booting.add(h);
    if (h.upAt < this.nextUp) this.nextUp = h.upAt;
  }

  /** More than `maxPosting` hosts of the circuit booting at once: every host on it goes down. */
  private maybeTrip(h: SimHost, f: FailureSpec & { kind: "power-trip" }, now: number): void {
    this.sync();
    const circuit = [...this.simHosts.values()].filter(
      (x) => x.host.failureDomains.power === h.host.failureDomains.power,
    );
    if (circuit.filter((x) => x.state === "booting").length <= f.maxPosting) return;
    this.append({
      host: h.host.name,
      command: "@power-trip",
      outcome: `circuit ${h.host.failureDomains.power}`,
    });
    for (const x of circuit) {
      if (x.state === "dead") continue;
      this.startBoot(x, now + f.downFor);
      this.append({ host: x.host.name, command: "@down", outcome: "power trip" });
    }
  }

  // --- workloads -----------------------------------------------------------------------------

  workload(id: string): SimWorkload | undefined {
    return this.loads.get(id);
  }

  allWorkloads(): SimWorkload[] {
    return [...this.loads.values()];
  }

  /** The workloads whose home is `host`, by id (do not modify). */
  homedAt(host: string): readonly SimWorkload[] {
    return this.byHome.get(host) ?? [];
  }

  /** Ids of the workloads running on the host, sorted. */
  runningOn(host: string): string[] {
    return [...(this.running.get(host) ?? [])].sort();
  }

  /** Where each workload runs (its first host if it runs twice); lost workloads are left out. */
  placement(): Map<string, string> {
    const m = new Map<string, string>();
    for (const [id, w] of this.loads) if (w.on[0] !== undefined) m.set(id, w.on[0]);
    return m;
  }

  /** The workload starts running on `host`. */
  place(id: string, host: string, outcome: string): void {
    const w = this.loads.get(id) as SimWorkload;
    w.on.push(host);
    const on = this.running.get(host);
    if (on && !on.has(id)) {
      on.add(id);
      this.arrived(host, w.spec, 1);
    }
    this.invalidate(host);
    this.append({ host, command: "@place", workload: id, outcome });
  }

  /** The workload stops running on `host`. */
  unplace(id: string, host: string, outcome: string): void {
    const w = this.loads.get(id) as SimWorkload;
    w.on = w.on.filter((x) => x !== host);
    if (this.running.get(host)?.delete(id)) this.arrived(host, w.spec, -1);
    this.invalidate(host);
    this.append({ host, command: "@unplace", workload: id, outcome });
  }

  /** A resident `w` came to (`+1`) or left (`-1`) `host`: count its home and its size there. */
  private arrived(host: string, w: Workload, by: 1 | -1): void {
    const u = this.usage.get(host);
    if (u === undefined) return;
    if (this.exactSums) {
      u.cpu += by * w.cpu;
      u.memoryMb += by * w.memoryMb;
      u.diskGb += by * w.diskGb;
    }
    const home = this.loads.get(w.id)?.home;
    if (home === undefined) return;
    let counts = this.holders.get(home);
    if (!counts) {
      counts = new Map();
      this.holders.set(home, counts);
    }
    const n = (counts.get(host) ?? 0) + by;
    if (n === 0) counts.delete(host);
    else counts.set(host, n);
  }

  /** What runs on the host or moves towards it changed: forget what was computed from it. */
  private invalidate(host: string): void {
    const c = this.cache.get(host);
    if (c) {
      c.used = undefined;
      c.residents = undefined;
    }
  }

  private cached(host: string): ResidencyCache {
    let c = this.cache.get(host);
    if (!c) {
      c = { used: undefined, residents: undefined };
      this.cache.set(host, c);
    }
    return c;
  }

  /** Capacity in use on the host: running workloads plus moves in flight towards it. */
  used(host: string): Readonly<Capacity> {
    if (this.exactSums) {
      const u = this.usage.get(host);
      if (u !== undefined) return u;
    }
    const c = this.cached(host);
    c.used ??= this.sumUsed(host);
    return c.used;
  }

  private sumUsed(host: string): Capacity {
    const u: Capacity = { cpu: 0, memoryMb: 0, diskGb: 0 };
    const add = (w: Workload) => {
      u.cpu += w.cpu;
      u.memoryMb += w.memoryMb;
      u.diskGb += w.diskGb;
    };
    for (const id of this.running.get(host) ?? []) add((this.loads.get(id) as SimWorkload).spec);
    for (const w of this.reserved.get(host) ?? []) add(w);
    return u;
  }

  capacityOf(host: string): Capacity {
    const h = this.simHosts.get(host);
    return h === undefined ? DEFAULT_CAPACITY : this.capacityOfHost(h);
  }

  /** `capacityOf` for a host already at hand (no lookup by name). */
  capacityOfHost(h: SimHost): Capacity {
    return h.host.capacity ?? DEFAULT_CAPACITY;
  }

  /** Workloads on the host or on their way to it (do not modify). */
  residents(host: string): readonly Workload[] {
    const c = this.cached(host);
    c.residents ??= [
      ...[...(this.running.get(host) ?? [])].map((id) => (this.loads.get(id) as SimWorkload).spec),
      ...(this.reserved.get(host) ?? []),
    ];
    return c.residents;
  }

  /** The hosts among whose residents (`residents`) some are at home on `home` (do not modify). */
  holdersOf(home: string): ReadonlyMap<string, number> | undefined {
    return this.holders.get(home);
  }

  reserve(host: string, w: Workload): void {
    const list = this.reserved.get(host) ?? [];
    list.push(w);
    this.reserved.set(host, list);
    this.arrived(host, w, 1);
    this.invalidate(host);
  }

  release(host: string, w: Workload): void {
    const list = this.reserved.get(host) ?? [];
    const i = list.indexOf(w);
    if (i >= 0) {
      list.splice(i, 1);
      this.arrived(host, w, -1);
    }
    this.invalidate(host);
  }

  /** Moves in flight towards the host (for tests: zero once every call has returned). */
  reservedOn(host: string): number {
    return this.reserved.get(host)?.length ?? 0;
  }

  // --- ledger --------------------------------------------------------------------------------

  /** Append an entry stamped with now, after recording every boot finished by now. */
  append(e: Omit<LedgerEntry, "at">): void {
    this.sync();
    this.ledger.push({ at: this.clock.now(), ...e });
  }

  /** `append` for an entry the caller stamped with now (`at`), kept as it is (no copy). */
  appendEntry(e: LedgerEntry): void {
    this.sync();
    this.ledger.push(e);
  }
}

/** A multiple of 1/1024 well inside the exact range of a double (see the header). */
function binaryFraction(x: number): boolean {
  return Number.isFinite(x) && Number.isInteger(x * 1024) && Math.abs(x) < 2 ** 40;
}
