/**
 * The simulated workloads manager (`SimWorld.workloads()`) on virtual time, without the engine:
 * drain onto hold-overs, reinstate, idempotence, placement rules, no room, abort, deadline,
 * unreachable hosts, host death, concurrent calls for one workload (one move at a time), determinism.
 * Every test ends by checking the world against the ledger with the invariant checker.
 */
import { describe, expect, it } from "vitest";
import { VirtualClock } from "../../src/adapters/clock/virtual-clock.js";
import { SimWorld } from "../../src/adapters/simulator/world.js";
import { TransportError } from "../../src/core/errors.js";
import type { Host, Workload } from "../../src/core/model/fleet.js";
import { generateFleet, parseFleetSpec } from "../../src/core/sim/fleet-gen.js";
import { checkInvariants, type InvariantName } from "../../src/core/sim/invariants.js";
import { parseScenarioText } from "../../src/core/sim/scenario.js";
import { DRAIN_REBOOT, simulate } from "./sim-support.js";

const HOUR = 3_600_000;

function setup(
  spec = "regions=2,hosts=5,holdovers=0.2,racks=2,workloads=8,seed=3",
  scenario = "seed: 1\n",
  opts: { start?: number; workloads?: (hosts: Host[]) => Workload[] } = {},
) {
  const clock = new VirtualClock(opts.start);
  const fleet = generateFleet(parseFleetSpec(spec));
  const workloads = opts.workloads ? opts.workloads(fleet.hosts) : fleet.workloads;
  const world = new SimWorld(clock, fleet.hosts, workloads, parseScenarioText(scenario, "s.yaml"));
  const host = (name: string) => fleet.hosts.find((h) => h.name === name) as Host;
  const call = (deadlineMs = 4 * HOUR, signal = new AbortController().signal) => ({
    signal,
    deadline: clock.now() + deadlineMs,
  });
  return { clock, world, wl: world.workloads(), hosts: fleet.hosts, workloads, host, call };
}

type World = ReturnType<typeof setup>;

/** The default fleet's workloads, each moving cold only (stop, copy, start: minutes per move). */
function coldOnly(hosts: Host[]): Workload[] {
  return generateFleet(parseFleetSpec("regions=2,hosts=5,holdovers=0.2,racks=2,workloads=8,seed=3"))
    .workloads.filter((w) => hosts.some((h) => h.name === w.host))
    .map((w) => ({ ...w, migration: ["cold"] }));
}

/** Placement, reservations and the ledger agree, and the ledger breaks no placement invariant. */
function expectConsistent(t: World, allowed: InvariantName[] = []) {
  const { world, hosts, workloads } = t;
  for (const w of world.allWorkloads()) expect(w.on.length, w.spec.id).toBe(w.lost ? 0 : 1);
  for (const h of hosts) {
    expect(world.reservedOn(h.name)).toBe(0);
    const used = world.used(h.name);
    const cap = world.capacityOf(h.name);
    expect(used.cpu).toBeLessThanOrEqual(cap.cpu);
    expect(used.memoryMb).toBeLessThanOrEqual(cap.memoryMb);
    expect(used.diskGb).toBeLessThanOrEqual(cap.diskGb);
    const groups = world.residents(h.name).flatMap((w) => (w.antiAffinityGroup ? [w.antiAffinityGroup] : []));
    expect(new Set(groups).size).toBe(groups.length);
    expect(world.residents(h.name).filter((w) => w.singleton).length).toBeLessThanOrEqual(1);
  }
  // Every read-only replica ends read-write (cut-over) or dropped (the move failed or was cancelled).
  const open = new Map<string, number>();
  for (const e of world.ledger) {
    const key = `${e.workload}/${e.outcome}`;
    if (e.command === "@volume-ro") open.set(key, (open.get(key) ?? 0) + 1);
    if (e.command === "@volume-rw" || e.command === "@volume-drop") open.set(key, (open.get(key) ?? 0) - 1);
  }
  expect([...open.values()].every((n) => n === 0)).toBe(true);
  // The ledger is ordered by time.
  expect(world.ledger.every((e, i) => i === 0 || (world.ledger[i - 1]?.at ?? 0) <= e.at)).toBe(true);
  const report = checkInvariants({
    hosts,
    workloads,
    ledger: world.ledger,
    plan: { steps: [], concurrency: { global: 1_000, perFailureDomain: {} } },
    runHosts: [],
    events: [],
  });
  const placementRules: InvariantName[] = ["workload-lost", "workload-twice", "over-capacity"];
  const found = report.violations.filter((v) => placementRules.includes(v.invariant));
  expect(found.filter((v) => !allowed.includes(v.invariant))).toEqual([]);
  return found;
}

describe("drain", () => {
  it("moves everything onto the region's hold-over, within capacity, with one cut-over per move", async () => {
    const t = setup();
    const before = t.world.runningOn("r01-h001");
    expect(before).toHaveLength(8);
    const r = await t.wl.drain(t.host("r01-h001"), t.call());
    expect(r.unplaced).toEqual([]);
    expect(r.moves.map((m) => m.workload).sort()).toEqual(before);
    expect(new Set(r.moves.map((m) => m.to))).toEqual(new Set(["r01-h005"]));
    expect(await t.wl.list(t.host("r01-h001"))).toEqual([]);
    expect(await t.wl.away(t.host("r01-h001"))).toEqual(before);
    const l = t.world.ledger;
    // The initial placement opens the ledger, at the world's start.
    const initial = l.filter((e) => e.outcome === "initial");
    expect(initial).toHaveLength(t.workloads.length);
    expect(initial.every((e) => e.command === "@place" && e.at === t.world.t0)).toBe(true);
    for (const m of r.moves) {
      const i = l.findIndex((e) => e.command === "@unplace" && e.workload === m.workload);
      expect(l[i]).toMatchObject({ host: "r01-h001", outcome: m.mode });
      expect(l[i + 1]).toMatchObject({
        command: "@place",
        host: m.to,
        workload: m.workload,
        outcome: m.mode,
      });
      expect(l[i + 1]?.at).toBe(l[i]?.at);
    }
    expectConsistent(t);
  });

  it("fills hold-overs first, then other workers with room, never a cordoned (drained) host", async () => {
    const t = setup();
    await t.wl.drain(t.host("r01-h001"), t.call());
    const r = await t.wl.drain(t.host("r01-h002"), t.call());
    expect(r.unplaced).toEqual([]);
    const targets = r.moves.map((m) => m.to);
    expect(targets).toContain("r01-h005");
    expect(targets.some((h) => h === "r01-h003" || h === "r01-h004")).toBe(true);
    expect(targets).not.toContain("r01-h001");
    expect(targets.every((h) => h.startsWith("r01-"))).toBe(true);
    expectConsistent(t);
  });

  it("live moves black out for under a second; cold moves stop, copy and start in over 20 s", async () => {
    const t = setup();
    const r = [
      await t.wl.drain(t.host("r01-h001"), t.call()),
      await t.wl.drain(t.host("r02-h001"), t.call()),
    ].flatMap((x) => x.moves);
    const live = r.filter((m) => m.mode === "live");
    const cold = r.filter((m) => m.mode === "cold");
    expect(live.length).toBeGreaterThan(0);
    expect(cold.length).toBeGreaterThan(0);
    for (const m of live) expect(m.downtimeMs).toBeGreaterThanOrEqual(50);
    for (const m of live) expect(m.downtimeMs).toBeLessThan(1_000);
    for (const m of cold) expect(m.downtimeMs).toBeGreaterThan(20_000);
    const byId = new Map(t.workloads.map((w) => [w.id, w]));
    for (const m of live) expect(byId.get(m.workload)?.migration).toContain("live");
    // Attached network volumes: read-only replica on the target during the move, read-write at cut-over.
    const vm = live[0] as (typeof live)[number];
    const vol = byId.get(vm.workload)?.volumes.find((v) => v.network && v.attachedTo) as { id: string };
    const ro = t.world.ledger.find((e) => e.command === "@volume-ro" && e.outcome === vol.id);
    const rw = t.world.ledger.find((e) => e.command === "@volume-rw" && e.outcome === vol.id);
    const place = t.world.ledger.find(
      (e) => e.command === "@place" && e.workload === vm.workload && e.host === vm.to,
    );
    expect(ro?.host).toBe(vm.to);
    expect(rw?.at).toBe(place?.at);
    expect((ro?.at ?? 0) < (rw?.at ?? 0)).toBe(true);
    expectConsistent(t);
  });

  it("re-homes unattached network volumes with their workload", async () => {
    const t = setup("regions=1,hosts=5,holdovers=0.2,workloads=16,seed=5");
    const source = t.workloads.find((w) => w.volumes.some((v) => v.network && v.attachedTo === undefined));
    expect(source).toBeDefined();
    const w = source as Workload;
    const r = await t.wl.drain(t.host(w.host), t.call());
    const move = r.moves.find((m) => m.workload === w.id);
    const detached = w.volumes.find((v) => v.network && v.attachedTo === undefined) as { id: string };
    expect(t.world.ledger.find((e) => e.command === "@volume-move" && e.workload === w.id)).toMatchObject({
      host: move?.to,
      outcome: `${detached.id} from ${w.host}`,
    });
  });

  it("is slower at the region's afternoon peak than in its night trough (bandwidth follows utilization)", async () => {
    // Region r01 is at UTC-5: 04:00 local is 09:00 UTC, 14:00 local is 19:00 UTC.
    const took = async (utcHour: number) => {
      const t = setup(undefined, undefined, { start: Date.UTC(2026, 0, 1, utcHour) });
      const t0 = t.clock.now();
      await t.wl.drain(t.host("r01-h001"), t.call());
      return t.clock.now() - t0;
    };
    const night = await took(9);
    const peak = await took(19);
    expect(peak).toBeGreaterThan(night * 1.5);
  });
});

describe("reinstate", () => {
  it("brings every workload home, live when it can, and the placement is the initial one again", async () => {
    const t = setup();
    const initial = new Map(t.workloads.map((w) => [w.id, w.host]));
    await t.wl.drain(t.host("r01-h001"), t.call());
    await t.wl.drain(t.host("r01-h002"), t.call());
    const r1 = await t.wl.reinstate(t.host("r01-h001"), t.call());
    expect(r1.unplaced).toEqual([]);
    expect(r1.moves).toHaveLength(8);
    expect(r1.moves.every((m) => m.to === "r01-h001")).toBe(true);
    const byId = new Map(t.workloads.map((w) => [w.id, w]));
    for (const m of r1.moves)
      expect(m.mode).toBe(byId.get(m.workload)?.migration.includes("live") ? "live" : "cold");
    expect(await t.wl.away(t.host("r01-h001"))).toEqual([]);
    await t.wl.reinstate(t.host("r01-h002"), t.call());
    expect(t.world.placement()).toEqual(initial);
    expectConsistent(t);
  });

  it("is idempotent, like drain: a re-run moves nothing and writes nothing", async () => {
    const t = setup();
    await t.wl.drain(t.host("r01-h001"), t.call());
    const n = t.world.ledger.length;
    expect(await t.wl.drain(t.host("r01-h001"), t.call())).toEqual({ moves: [], unplaced: [] });
    await t.wl.reinstate(t.host("r01-h001"), t.call());
    const m = t.world.ledger.length;
    expect(m).toBeGreaterThan(n);
    expect(await t.wl.reinstate(t.host("r01-h001"), t.call())).toEqual({ moves: [], unplaced: [] });
    expect(t.world.ledger.length).toBe(m);
    // Reinstating a host never drained is a no-op too.
    expect(await t.wl.reinstate(t.host("r02-h003"), t.call())).toEqual({ moves: [], unplaced: [] });
  });
});

describe("placement rules", () => {
  const small = (id: string, host: string, extra: Partial<Workload> = {}): Workload => ({
    id,
    kind: "service",
    host,
    cpu: 2,
    memoryMb: 4_096,
    diskGb: 20,
    migration: ["cold"],
    volumes: [],
    ...extra,
  });

  it("never puts two of an anti-affinity group, or two singletons, on one host", async () => {
    // r01-h001 and r01-h002 are workers; r01-h003 and r01-h004 hold-overs.
    const t = setup("regions=1,hosts=4,holdovers=0.5,seed=1", undefined, {
      workloads: () => [
        small("a1", "r01-h001", { antiAffinityGroup: "g" }),
        small("s1", "r01-h001", { singleton: true }),
        small("x1", "r01-h001"),
        small("a2", "r01-h002", { antiAffinityGroup: "g" }),
        small("s2", "r01-h002", { singleton: true }),
        small("x2", "r01-h002"),
      ],
    });
    const r1 = await t.wl.drain(t.host("r01-h001"), t.call());
    expect(new Set(r1.moves.map((m) => m.to))).toEqual(new Set(["r01-h003"]));
    const r2 = await t.wl.drain(t.host("r01-h002"), t.call());
    const to = Object.fromEntries(r2.moves.map((m) => [m.workload, m.to]));
    // a2 and s2 cannot join a1 and s1; x2 could, but stays with the rest of its home's workloads.
    expect(to).toEqual({ a2: "r01-h004", s2: "r01-h004", x2: "r01-h004" });
    expectConsistent(t);
  });

  it("with no room, moves what fits and reports the rest with the reason; it stays where it was", async () => {
    const t = setup("regions=1,hosts=2,racks=1,workloads=8,seed=3");
    const r = await t.wl.drain(t.host("r01-h001"), t.call());
    expect(r.moves.length).toBeGreaterThan(0);
    expect(r.unplaced.length).toBeGreaterThan(0);
    for (const u of r.unplaced)
      expect(u.reason).toMatch(
        /^no room in region r01 \(r01-h002: (.* free|another singleton already there|anti-affinity group \S+ already there)\)$/,
      );
    expect(r.unplaced.some((u) => /cpu [\d.]+ > [\d.]+ free/.test(u.reason))).toBe(true);
    expect(await t.wl.list(t.host("r01-h001"))).toEqual(r.unplaced.map((u) => u.workload).sort());
    expectConsistent(t);
  });

  it("reports pinned workloads and a region with nowhere to go", async () => {
    const t = setup("regions=1,hosts=1,seed=1", undefined, {
      workloads: () => [small("p", "r01-h001", { pinned: true }), small("q", "r01-h001")],
    });
    const r = await t.wl.drain(t.host("r01-h001"), t.call());
    expect(r).toEqual({
      moves: [],
      unplaced: [
        { workload: "p", reason: "pinned to r01-h001" },
        { workload: "q", reason: "no other worker or hold-over in region r01" },
      ],
    });
  });
});

describe("abort and deadline", () => {
  it("abort mid-drain: no new move starts, moves in flight end cleanly, the call rejects with the reason", async () => {
    const t = setup();
    const ac = new AbortController();
    const stop = new Error("operator abort");
    let abortedAt = 0;
    void t.clock.sleep(90_000).then(() => {
      abortedAt = t.clock.now();
      ac.abort(stop);
    });
    await expect(t.wl.drain(t.host("r01-h001"), t.call(4 * HOUR, ac.signal))).rejects.toBe(stop);
    const left = t.world.runningOn("r01-h001");
    expect(left.length).toBeGreaterThan(0);
    expect(left.length).toBeLessThan(8);
    // Only moves already in flight (at most 4, all past the point where they could stop) finished after it.
    const late = t.world.ledger.filter((e) => e.command === "@place" && e.at > abortedAt);
    expect(late.length).toBeLessThanOrEqual(4);
    expect(t.world.ledger.some((e) => e.command === "@volume-ro" && e.at > abortedAt)).toBe(false);
    expectConsistent(t);
    // A re-run finishes the job.
    const again = await t.wl.drain(t.host("r01-h001"), t.call());
    expect(again.moves.map((m) => m.workload).sort()).toEqual(left);
    expect(t.world.runningOn("r01-h001")).toEqual([]);
    expectConsistent(t);
  });

  it("a live move aborted in its pre-copy is dropped; aborted in its blackout, it still cuts over", async () => {
    // One live workload on r01-h001: the same seed gives the same move in every world.
    const oneLive = (hosts: Host[]) =>
      generateFleet(parseFleetSpec("regions=2,hosts=5,holdovers=0.2,racks=2,workloads=8,seed=3"))
        .workloads.filter((w) => w.host === "r01-h001" && hosts.some((h) => h.name === w.host))
        .slice(0, 1)
        .map((w) => ({ ...w, migration: ["live" as const] }));
    const drainAbortedAt = async (abortAfter: number | undefined) => {
      const t = setup(undefined, undefined, { workloads: oneLive });
      const ac = new AbortController();
      const start = t.clock.now();
      if (abortAfter !== undefined) void t.clock.sleep(abortAfter).then(() => ac.abort(new Error("stop")));
      const r = await t.wl.drain(t.host("r01-h001"), t.call(4 * HOUR, ac.signal)).catch((e: Error) => e);
      const placed = t.world.ledger.find((e) => e.command === "@place" && e.at > start);
      expectConsistent(t);
      return { r, start, cutover: placed?.at, left: t.world.runningOn("r01-h001") };
    };
    const free = await drainAbortedAt(undefined);
    const cutover = (free.cutover as number) - free.start;
    // A live move's blackout is 50-500 ms; its pre-copy of this VM's memory takes seconds.
    expect(cutover).toBeGreaterThan(2_000);
    const inBlackout = await drainAbortedAt(cutover - 20);
    expect((inBlackout.r as Error).message).toBe("stop");
    expect(inBlackout.left).toEqual([]);
    expect((inBlackout.cutover as number) - inBlackout.start).toBe(cutover);
    const inPreCopy = await drainAbortedAt(1_000);
    expect((inPreCopy.r as Error).message).toBe("stop");
    expect(inPreCopy.cutover).toBeUndefined();
    expect(inPreCopy.left).toHaveLength(1);
  });

  it("an already aborted signal does nothing at all", async () => {
    const t = setup();
    const ac = new AbortController();
    ac.abort(new Error("stop"));
    const n = t.world.ledger.length;
    await expect(t.wl.drain(t.host("r01-h001"), t.call(HOUR, ac.signal))).rejects.toThrow("stop");
    expect(t.world.ledger.length).toBe(n);
  });

  it("does not start a move that would end after the deadline", async () => {
    const t = setup();
    const r = await t.wl.drain(t.host("r01-h001"), t.call(10_000));
    expect(r.moves).toEqual([]);
    expect(r.unplaced).toHaveLength(8);
    for (const u of r.unplaced)
      expect(u.reason).toMatch(/^not started: the (live|cold) move takes \d+ s, 10 s left$/);
    expect(t.world.runningOn("r01-h001")).toHaveLength(8);
    expectConsistent(t);
  });
});

describe("unreachable and failing hosts", () => {
  it("an unreachable source rejects with TransportError(unreachable) and changes nothing", async () => {
    // r01-h001 is on rack r01-k01.
    const t = setup(
      undefined,
      "seed: 1\nfailures: [{ kind: partition, rack: r01-k01, from: 0s, until: 1h }]\n",
    );
    const n = t.world.ledger.length;
    const err = await t.wl.drain(t.host("r01-h001"), t.call()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransportError);
    expect((err as TransportError).kind).toBe("unreachable");
    expect(t.world.ledger.length).toBe(n);
    // A reachable worker of the same region avoids the partitioned hold-over (r01-h005, rack k01).
    const r = await t.wl.drain(t.host("r01-h002"), t.call());
    expect(r.moves.every((m) => m.to === "r01-h004")).toBe(true);
    expect(r.unplaced.length).toBeGreaterThan(0);
    expectConsistent(t);
  });

  it("when every target is unreachable nothing can be done: the call rejects", async () => {
    const t = setup(
      "regions=1,hosts=2,holdovers=0.5,racks=2,workloads=3,seed=1",
      "seed: 1\nfailures: [{ kind: partition, rack: r01-k02, from: 0s, until: 1h }]\n",
    );
    await expect(t.wl.drain(t.host("r01-h001"), t.call())).rejects.toMatchObject({
      kind: "unreachable",
      message: expect.stringContaining("every target in region r01 is unreachable"),
    });
  });

  it("reinstate onto a host that is still booting rejects; once it is up, it works", async () => {
    const t = setup(undefined, "seed: 1\nboot: { min: 2m, max: 2m }\n");
    await t.wl.drain(t.host("r01-h001"), t.call());
    await t.world.transport().exec(t.host("r01-h001"), { command: "systemctl reboot", timeoutMs: 5_000 });
    await expect(t.wl.reinstate(t.host("r01-h001"), t.call())).rejects.toMatchObject({ kind: "unreachable" });
    await t.clock.sleep(130_000);
    const r = await t.wl.reinstate(t.host("r01-h001"), t.call());
    expect(r.moves).toHaveLength(8);
    expectConsistent(t);
  });

  it("a target that goes down mid-move fails those moves cleanly: the workloads stay on the source", async () => {
    const t = setup(undefined, "seed: 1\nboot: { min: 2m, max: 2m }\n");
    const draining = t.wl.drain(t.host("r01-h001"), t.call());
    await t.clock.sleep(5_000);
    await t.world.transport().exec(t.host("r01-h005"), { command: "systemctl reboot", timeoutMs: 5_000 });
    const r = await draining;
    const failed = r.unplaced.filter((u) => u.reason.includes("target r01-h005 went down (booting)"));
    expect(failed.length).toBeGreaterThan(0);
    for (const u of failed) expect(t.world.placement().get(u.workload)).toBe("r01-h001");
    expect(t.world.ledger.some((e) => e.command === "@volume-drop")).toBe(
      failed.some((u) => t.workloads.find((w) => w.id === u.workload)?.volumes.some((v) => v.network)),
    );
    expectConsistent(t);
  });

  it("a host that dies with workloads on it loses them: @dead, then @lost for each", async () => {
    const t = setup(undefined, "seed: 1\nfailures: [{ kind: never-returns, host: r01-h002 }]\n");
    const on = t.world.runningOn("r01-h002");
    await t.world.transport().exec(t.host("r01-h002"), { command: "systemctl reboot", timeoutMs: 5_000 });
    const l = t.world.ledger;
    const dead = l.findIndex((e) => e.command === "@dead" && e.host === "r01-h002");
    expect(dead).toBeGreaterThan(0);
    expect(l.slice(dead + 1, dead + 1 + on.length).map((e) => [e.command, e.workload])).toEqual(
      on.map((id) => ["@lost", id]),
    );
    expect([...t.world.placement().keys()].some((id) => on.includes(id))).toBe(false);
    expect(await t.wl.list(t.host("r01-h002"))).toEqual([]);
    expect(await t.wl.away(t.host("r01-h002"))).toEqual([]);
    const found = expectConsistent(t, ["workload-lost"]);
    expect(found.filter((v) => v.invariant === "workload-lost")).toHaveLength(on.length);
  });
});

describe("concurrent calls for one workload", () => {
  it("two concurrent drains of one host: one migration per workload at a time, so each moves once", async () => {
    const t = setup();
    const before = t.world.runningOn("r01-h001");
    const [a, b] = await Promise.all([
      t.wl.drain(t.host("r01-h001"), t.call()),
      t.wl.drain(t.host("r01-h001"), t.call()),
    ]);
    // The second call waited for each move of the first, then found the workload gone: nothing to do.
    expect([...a.moves, ...b.moves].map((m) => m.workload).sort()).toEqual([...before].sort());
    expect([...a.unplaced, ...b.unplaced]).toEqual([]);
    expect(t.world.runningOn("r01-h001")).toEqual([]);
    expectConsistent(t);
  });

  it("a workload parked on a worker: that worker's drain and its home's reinstate at once never run it twice", async () => {
    // Every workload moves cold only (stop, copy, start): the copy takes long enough to overlap.
    const t = setup(undefined, undefined, { workloads: coldOnly });
    await t.wl.drain(t.host("r01-h001"), t.call());
    await t.wl.drain(t.host("r01-h002"), t.call());
    const parked = t.world
      .allWorkloads()
      .filter((w) => w.home === "r01-h002" && (w.on[0] === "r01-h003" || w.on[0] === "r01-h004"));
    expect(parked.length).toBeGreaterThan(0);
    const peer = parked[0]?.on[0] as string;
    const [drained, home] = await Promise.all([
      t.wl.drain(t.host(peer), t.call()),
      t.wl.reinstate(t.host("r01-h002"), t.call()),
    ]);
    expect(drained.moves.length + home.moves.length).toBeGreaterThan(0);
    // Whichever call got a parked workload first, the other waited for that move and looked again:
    // each is home now, or still away and reported (the peer's drain may have filled its home).
    for (const w of parked) {
      const on = t.world.workload(w.spec.id)?.on ?? [];
      expect(on.length, w.spec.id).toBe(1);
      if (on[0] !== "r01-h002") expect(home.unplaced.map((u) => u.workload)).toContain(w.spec.id);
    }
    expect(parked.filter((w) => w.on[0] === "r01-h002").length).toBeGreaterThan(0);
    expectConsistent(t);
  });
});

describe("concurrent calls for one workload, aborted", () => {
  it("a call waiting for another call's move of its workloads gives up at its abort, not at that move's end", async () => {
    // Cold moves only: the first drain's moves take minutes, so the second call waits on them.
    const t = setup(undefined, undefined, { workloads: coldOnly });
    const start = t.clock.now();
    const first = t.wl.drain(t.host("r01-h001"), t.call());
    const ac = new AbortController();
    const second = t.wl.drain(t.host("r01-h001"), t.call(undefined, ac.signal));
    let gaveUpAt: number | undefined;
    const settled = second.then(
      () => "resolved",
      (e: unknown) => {
        gaveUpAt = t.clock.now();
        return e;
      },
    );
    await t.clock.sleep(1_000);
    ac.abort(new Error("operator abort"));
    expect(await settled).toEqual(new Error("operator abort"));
    const r = await first;
    const firstEnd = Math.max(...t.world.ledger.filter((e) => e.command === "@place").map((e) => e.at));
    expect(r.moves.length).toBeGreaterThan(0);
    expect(gaveUpAt).toBe(start + 1_000);
    expect(firstEnd).toBeGreaterThan(start + 1_000);
    expect(t.world.runningOn("r01-h001")).toEqual([]);
    expectConsistent(t);
  });
});

describe("an unexpected error in a move (a bug)", () => {
  it("settles that move's call with it; the calls waiting for its workload go on", async () => {
    const t = setup(undefined, undefined, { workloads: coldOnly });
    const place = t.world.place.bind(t.world);
    let thrown = false;
    t.world.place = (w, host, outcome) => {
      if (!thrown && outcome !== "initial") {
        thrown = true;
        throw new Error("bug in place");
      }
      place(w, host, outcome);
    };
    const first = t.wl.drain(t.host("r01-h001"), t.call()).then(
      () => "resolved",
      (e: Error) => e.message,
    );
    const second = t.wl.drain(t.host("r01-h001"), t.call()).then(
      () => "resolved",
      (e: Error) => e.message,
    );
    // Bounded: a waiter left behind would wait until its deadline (4 h).
    const hung = t.clock.sleep(3_600_000).then(() => "hung");
    expect(await Promise.race([first, hung])).toBe("bug in place");
    expect(await Promise.race([second, hung])).toBe("resolved");
  });
});

describe("determinism", () => {
  it("the same seed gives the identical ledger (JSON) twice", async () => {
    const once = async () => {
      const t = setup(undefined, "seed: 4\nboot: { min: 2m, max: 5m }\n");
      const tr = t.world.transport();
      await Promise.all(
        ["r01-h001", "r01-h002", "r02-h001"].map(async (name) => {
          await t.wl.drain(t.host(name), t.call());
          await tr.exec(t.host(name), { command: "systemctl reboot", timeoutMs: 5_000 });
          await t.clock.sleep(6 * 60_000);
          await t.world.health().check(t.host(name), t.call());
          await t.wl.reinstate(t.host(name), t.call());
        }),
      );
      expectConsistent(t);
      return JSON.stringify(t.world.ledger);
    };
    const a = await once();
    expect(await once()).toBe(a);
    expect(JSON.parse(a).length).toBeGreaterThan(150);
  });
});

describe("with the engine", () => {
  it("a drain / reboot / wait-healthy / reinstate plan over every worker keeps every invariant", async () => {
    const t = await simulate(
      "seed: 2\nboot: { min: 2m, max: 5m }\n",
      "regions=2,hosts=5,holdovers=0.4,racks=2,workloads=6,seed=9",
      DRAIN_REBOOT,
      (h) => h.role === "worker",
    );
    expect(t.res.run.state).toBe("succeeded");
    expect(t.world.placement()).toEqual(new Map(t.workloads.map((w) => [w.id, w.host])));
    expect(t.world.ledger.filter((e) => e.command === "@health" && e.outcome === "healthy")).toHaveLength(6);
    const report = checkInvariants({
      hosts: t.hosts,
      workloads: t.workloads,
      ledger: t.world.ledger,
      plan: t.plan,
      runHosts: t.rows,
      events: t.events,
    });
    expect(report.violations).toEqual([]);
    expect(report.checked["drained-not-reinstated"]).toBe(6);
  });
});
