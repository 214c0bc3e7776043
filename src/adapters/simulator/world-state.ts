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
 * - What is kept per host (what runs on it, what moves towards it, its capacity in use and the
 *   caches) is one record (`Site`), so a change on a host looks its name up once. Only hosts of
 *   the world have one: a name that is not in the world runs nothing and holds nothing.
 */
import { InputError } from "../../core/errors.js";
import type { Capacity, Fleet, Workload } from "../../core/model/fleet.js";
import type { LedgerEntry } from "../../core/sim/ledger.js";
import type { FailureSpec, Scenario } from "../../core/sim/scenario.js";
import { DEFAULT_CAPACITY } from "../../core/sim/workload-gen.js";
import type { Clock } from "../../ports/clock.js";
import { bootIdOf, diskDies, newSimHost, type SimHost } from "./sim-host.js";

const KEXEC_MS = { min: 10_000, max: 30_000 };

/** What the world keeps for one host of it, besides its `SimHost` (see the header). */
interface Site {
  /** Ids of the workloads running on it. */
  readonly running: Set<string>;
  /** Workloads moving onto it (capacity held from the start of the move). */
  readonly reserved: Workload[];
  /** Capacity in use, summed as workloads come and go (read only when `exactSums`). */
  readonly usage: Capacity;
  /** What `used` / `residents` computed since the last change on it. */
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
  /** home host -> host -> how many of the host's residents (`residents`) have that home. */
  private readonly holders = new Map<string, Map<string, number>>();
  /** Every workload size is a binary fraction: `used` is kept as a running sum (see the header). */
  private readonly exactSums: boolean;
  /** host -> what is kept for it (see `Site`). */
  private readonly sites = new Map<string, Site>();
  /** Hosts that take no workloads: drained and not reinstated yet. */
  readonly cordoned = new Set<string>();

  constructor(
    readonly clock: Clock,
    fleet: Fleet,
    readonly scenario: Scenario,
  ) {
    this.t0 = clock.now();
    for (const h of fleet.hosts) {
      const sh = newSimHost(h, scenario);
      this.simHosts.set(h.name, sh);
      this.sites.set(h.name, {
        running: new Set(),
        reserved: [],
        usage: { cpu: 0, memoryMb: 0, diskGb: 0 },
        used: undefined,
        residents: undefined,
      });
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
      this.place(sw, w.host, "initial");
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
    return h.failures;
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
    const name = h.host.name;
    this.booting.delete(h);
    h.state = "dead";
    this.append({ host: name, command: "@dead", outcome: why });
    const site = this.sites.get(name);
    for (const id of this.runningOn(name)) {
      const w = this.loads.get(id) as SimWorkload;
      if (site?.running.delete(id)) this.arrived(site, name, w, -1);
      this.invalidate(site);
      removeAll(w.on, name);
      if (w.on.length === 0) w.lost = true;
      this.append({ host: name, command: "@lost", workload: id, outcome: `host died (${why})` });
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
    return [...(this.sites.get(host)?.running ?? [])].sort();
  }

  /** Where each workload runs (its first host if it runs twice); lost workloads are left out. */
  placement(): Map<string, string> {
    const m = new Map<string, string>();
    for (const [id, w] of this.loads) if (w.on[0] !== undefined) m.set(id, w.on[0]);
    return m;
  }

  /** The workload starts running on `host` (at the cut-over of a move: after `downtimeMs` down). */
  place(w: SimWorkload, host: string, outcome: string, downtimeMs?: number): void {
    const id = w.spec.id;
    w.on.push(host);
    const site = this.sites.get(host);
    if (site && !site.running.has(id)) {
      site.running.add(id);
      this.arrived(site, host, w, 1);
    }
    this.invalidate(site);
    const e: LedgerEntry = { at: this.clock.now(), host, command: "@place", workload: id, outcome };
    if (downtimeMs !== undefined) e.downtimeMs = downtimeMs;
    this.appendEntry(e);
  }

  /** The workload stops running on `host`. */
  unplace(w: SimWorkload, host: string, outcome: string): void {
    const id = w.spec.id;
    removeAll(w.on, host);
    const site = this.sites.get(host);
    if (site?.running.delete(id)) this.arrived(site, host, w, -1);
    this.invalidate(site);
    this.appendEntry({ at: this.clock.now(), host, command: "@unplace", workload: id, outcome });
  }

  /** A resident `w` came to (`+1`) or left (`-1`) `host`: count its home and its size there. */
  private arrived(site: Site, host: string, w: SimWorkload, by: 1 | -1): void {
    if (this.exactSums) {
      const u = site.usage;
      u.cpu += by * w.spec.cpu;
      u.memoryMb += by * w.spec.memoryMb;
      u.diskGb += by * w.spec.diskGb;
    }
    let counts = this.holders.get(w.home);
    if (!counts) {
      counts = new Map();
      this.holders.set(w.home, counts);
    }
    const n = (counts.get(host) ?? 0) + by;
    if (n === 0) counts.delete(host);
    else counts.set(host, n);
  }

  /** What runs on the host or moves towards it changed: forget what was computed from it. */
  private invalidate(site: Site | undefined): void {
    if (site) {
      site.used = undefined;
      site.residents = undefined;
    }
  }

  /** Capacity in use on the host: running workloads plus moves in flight towards it. */
  used(host: string): Readonly<Capacity> {
    const site = this.sites.get(host);
    if (!site) return { cpu: 0, memoryMb: 0, diskGb: 0 };
    if (this.exactSums) return site.usage;
    site.used ??= this.sumUsed(site);
    return site.used;
  }

  private sumUsed(site: Site): Capacity {
    const u: Capacity = { cpu: 0, memoryMb: 0, diskGb: 0 };
    const add = (w: Workload) => {
      u.cpu += w.cpu;
      u.memoryMb += w.memoryMb;
      u.diskGb += w.diskGb;
    };
    for (const id of site.running) add((this.loads.get(id) as SimWorkload).spec);
    for (const w of site.reserved) add(w);
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
    const site = this.sites.get(host);
    if (!site) return [];
    site.residents ??= [
      ...[...site.running].map((id) => (this.loads.get(id) as SimWorkload).spec),
      ...site.reserved,
    ];
    return site.residents;
  }

  /** The hosts among whose residents (`residents`) some are at home on `home` (do not modify). */
  holdersOf(home: string): ReadonlyMap<string, number> | undefined {
    return this.holders.get(home);
  }

  /** A move of `w` towards `host` starts: its capacity there is held until `release`. */
  reserve(host: string, w: SimWorkload): void {
    const site = this.sites.get(host);
    if (!site) return;
    site.reserved.push(w.spec);
    this.arrived(site, host, w, 1);
    this.invalidate(site);
  }

  release(host: string, w: SimWorkload): void {
    const site = this.sites.get(host);
    if (!site) return;
    const i = site.reserved.indexOf(w.spec);
    if (i >= 0) {
      site.reserved.copyWithin(i, i + 1);
      site.reserved.pop();
      this.arrived(site, host, w, -1);
    }
    this.invalidate(site);
  }

  /** Moves in flight towards the host (for tests: zero once every call has returned). */
  reservedOn(host: string): number {
    return this.sites.get(host)?.reserved.length ?? 0;
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

/** Take every `x` out of `list`, in place (the others keep their order). */
function removeAll<T>(list: T[], x: T): void {
  let kept = 0;
  for (const y of list) if (y !== x) list[kept++] = y;
  list.length = kept;
}

/** A multiple of 1/1024 well inside the exact range of a double (see the header). */
function binaryFraction(x: number): boolean {
  return Number.isFinite(x) && Number.isInteger(x * 1024) && Math.abs(x) < 2 ** 40;
}
