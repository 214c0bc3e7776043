/**
 * `SimTransport` command by command (no engine): the plain commands, unknown commands, latency on
 * the virtual clock, and a partition dropping an in-flight command.
 */
import { describe, expect, it } from "vitest";
import { VirtualClock } from "../../src/adapters/clock/virtual-clock.js";
import type { PlanSteps } from "../../src/adapters/simulator/index.js";
import { CONNECT_TIMEOUT_MS } from "../../src/adapters/simulator/sim-host.js";
import { SimWorld } from "../../src/adapters/simulator/world.js";
import { TransportError } from "../../src/core/errors.js";
import { generateFleet, parseFleetSpec } from "../../src/core/sim/fleet-gen.js";
import { parseScenarioText } from "../../src/core/sim/scenario.js";

function setup(scenario = "seed: 1\n", steps: PlanSteps = []) {
  const clock = new VirtualClock();
  const { hosts } = generateFleet(parseFleetSpec("regions=1,hosts=2,racks=2,seed=1"));
  const world = new SimWorld(clock, hosts, [], parseScenarioText(scenario, "s.yaml"), steps);
  const t = world.transport();
  const run = (i: number, command: string, env?: Record<string, string>) =>
    t.exec(hosts[i]!, { command, timeoutMs: 60_000, ...(env ? { env } : {}) });
  return { clock, hosts, world, t, run };
}

describe("SimTransport commands", () => {
  it("answers true/false/echo/version and, with unknownCommands: fail, exits 127 for anything else", async () => {
    const { run, world } = setup("seed: 1\nunknownCommands: fail\n");
    expect((await run(0, "true")).exitCode).toBe(0);
    expect((await run(0, "false")).exitCode).toBe(1);
    expect((await run(0, "echo hi there")).stdout).toBe("hi there\n");
    expect((await run(0, "version get")).exitCode).toBe(1);
    expect((await run(0, "version set 2.1")).exitCode).toBe(0);
    expect((await run(0, "version get")).stdout).toBe("2.1\n");
    expect((await run(1, "version get")).exitCode).toBe(1);
    const unknown = await run(0, "rm -rf /");
    expect(unknown.exitCode).toBe(127);
    expect(unknown.stderr).toContain("command not found");
    expect(world.ledger.map((e) => e.outcome)).toEqual([
      "exit 0",
      "exit 1",
      "exit 0",
      "exit 1",
      "exit 0",
      "exit 0",
      "exit 1",
      "exit 127",
    ]);
  });

  it("by default an unknown command succeeds (a rehearsal), and as a check says 'not done yet'", async () => {
    const { run, world } = setup();
    expect((await run(0, "apt-get install -y nginx", { OVERHAUL_PHASE: "run" })).exitCode).toBe(0);
    expect((await run(0, "dpkg -s nginx", { OVERHAUL_PHASE: "check" })).exitCode).toBe(1);
    expect((await run(0, "nginx -t")).exitCode).toBe(0);
    expect(world.ledger.map((e) => [e.outcome, e.applied])).toEqual([
      ["exit 0", true],
      ["exit 1", true],
      ["exit 0", true],
    ]);
  });

  it("a reboot or wait-healthy step's own command is its reboot or health probe, only as that step's run", async () => {
    const { run, world, hosts, clock } = setup(
      "seed: 1\nunknownCommands: fail\nfailures: [{ kind: unhealthy, host: r01-h002 }]\n",
      [
        { name: "restart", kind: "reboot", run: "shutdown -r now" },
        { name: "probe", kind: "wait-healthy", run: " curl -f localhost/healthz " },
        { name: "plain", kind: "command", run: "shutdown -r now" },
      ],
    );
    const as = (step: string, phase = "run") => ({ OVERHAUL_STEP: step, OVERHAUL_PHASE: phase });
    // Elsewhere (another step, another phase, no step) the same command is any other command.
    expect((await run(0, "shutdown -r now", as("plain"))).exitCode).toBe(127);
    expect((await run(0, "shutdown -r now", as("restart", "check"))).exitCode).toBe(127);
    expect((await run(0, "curl -f localhost/healthz")).exitCode).toBe(127);
    expect(world.stateOf(hosts[0]!.name)?.state).toBe("up");
    expect((await run(0, "curl -f localhost/healthz", as("probe"))).exitCode).toBe(0);
    expect((await run(0, "shutdown -r now", as("restart"))).exitCode).toBe(0);
    expect(world.stateOf(hosts[0]!.name)?.state).toBe("booting");
    expect(
      world.ledger.filter((e) => e.command.startsWith("@")).map((e) => [e.host, e.command]),
    ).toContainEqual([hosts[0]!.name, "@down"]);
    // A host that comes back unhealthy fails the step's probe.
    expect((await run(1, "shutdown -r now", as("restart"))).exitCode).toBe(0);
    await clock.sleep(30 * 60_000);
    const sick = await run(1, "curl -f localhost/healthz", as("probe"));
    expect([sick.exitCode, sick.stderr]).toEqual([
      1,
      "sim: unhealthy: system degraded since its last boot\n",
    ]);
  });

  it("every command takes virtual time; sleep N takes N seconds more", async () => {
    const { run, clock } = setup();
    const t0 = clock.now();
    await run(0, "true");
    const lat = clock.now() - t0;
    expect(lat).toBeGreaterThanOrEqual(20);
    expect(lat).toBeLessThan(200);
    await run(0, "sleep 30");
    expect(clock.now() - t0).toBeGreaterThanOrEqual(30_000 + lat);
  });

  it("a reboot takes the host down at once; it answers again with a new boot id after the boot", async () => {
    const { run, clock } = setup("seed: 1\nboot: { min: 2m, max: 2m }\n");
    const before = (await run(0, "cat /proc/sys/kernel/random/boot_id")).stdout;
    await run(0, "systemctl reboot");
    await expect(run(0, "true")).rejects.toMatchObject({ kind: "unreachable" });
    await clock.sleep(130_000);
    expect((await run(0, "cat /proc/sys/kernel/random/boot_id")).stdout).not.toBe(before);
  });

  it("a host that does not answer fails at the connect timeout (10 s), or sooner at its timeout or abort", async () => {
    const { t, hosts, clock, world, run } = setup("seed: 1\nboot: { min: 10m, max: 10m }\n");
    await run(0, "systemctl reboot");
    const at = (n: number) => world.ledger[world.ledger.length - n]?.at;
    let t0 = clock.now();
    await expect(run(0, "true")).rejects.toMatchObject({ kind: "unreachable" });
    expect(clock.now() - t0).toBe(CONNECT_TIMEOUT_MS);
    expect(CONNECT_TIMEOUT_MS).toBe(10_000);
    expect(world.ledger.at(-1)).toMatchObject({
      at: clock.now(),
      outcome: "unreachable (booting)",
      applied: false,
    });
    t0 = clock.now();
    const short = t.exec(hosts[0]!, { command: "true", timeoutMs: 3_000 });
    await expect(short).rejects.toMatchObject({ kind: "unreachable" });
    expect(clock.now() - t0).toBe(3_000);
    expect(at(1)).toBe(clock.now());
    t0 = clock.now();
    const ac = new AbortController();
    const aborted = t.exec(hosts[0]!, { command: "true", timeoutMs: 60_000, signal: ac.signal });
    await clock.sleep(1_500);
    ac.abort(new Error("stop"));
    await expect(aborted).rejects.toThrow("stop");
    expect(clock.now() - t0).toBe(1_500);
  });

  it("kexec: true boots in the fast path (10 to 30 s) instead of minutes", async () => {
    const { run, clock } = setup("seed: 1\nboot: { min: 10m, max: 15m, kexec: true }\n");
    await run(0, "systemctl reboot");
    await clock.sleep(30_000);
    expect((await run(0, "true")).exitCode).toBe(0);
  });

  it("a partition starting while a command runs drops it; after the partition the host answers", async () => {
    const { run } = setup("seed: 1\nfailures: [{ kind: partition, rack: r01-k01, from: 10s, until: 20s }]\n");
    const err = await run(0, "sleep 15").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransportError);
    expect((err as TransportError).kind).toBe("dropped");
    await expect(run(0, "true")).rejects.toMatchObject({ kind: "unreachable" });
    expect((await run(1, "sleep 10")).exitCode).toBe(0);
    expect((await run(0, "true")).exitCode).toBe(0);
  });

  it("ledger entries carry applied and the engine's run, step, phase and attempt", async () => {
    const { run, world } = setup();
    const env = {
      OVERHAUL_RUN_ID: "run-1",
      OVERHAUL_STEP: "upgrade",
      OVERHAUL_PHASE: "run",
      OVERHAUL_ATTEMPT: "2",
    };
    await run(0, "version set 3", env);
    await run(0, "false", { OVERHAUL_RUN_ID: "run-1", OVERHAUL_STEP: "x", OVERHAUL_ATTEMPT: "1" });
    await run(1, "true");
    const [a, b, c] = world.ledger;
    expect(a).toMatchObject({ host: "r01-h001", command: "version set 3", outcome: "exit 0", applied: true });
    expect(a).toMatchObject({ runId: "run-1", step: "upgrade", phase: "run", attempt: 2 });
    // OVERHAUL_PHASE is optional; a command that ran took effect whatever its exit code.
    expect(b).toMatchObject({ outcome: "exit 1", applied: true, step: "x", attempt: 1 });
    expect(b?.phase).toBeUndefined();
    expect(c).toEqual({ at: c?.at, host: "r01-h002", command: "true", outcome: "exit 0", applied: true });
  });

  it("a dropped command took effect or not (a seeded coin per host), and the ledger says which", async () => {
    const clock = new VirtualClock();
    const { hosts } = generateFleet(parseFleetSpec("regions=1,hosts=24,racks=1,seed=1"));
    const scenario = parseScenarioText(
      "seed: 5\nfailures: [{ kind: partition, rack: r01-k01, from: 10s, until: 1h }]\n",
      "s.yaml",
    );
    const world = new SimWorld(clock, hosts, [], scenario);
    const t = world.transport();
    const errs = await Promise.all(
      hosts.map((h) =>
        t.exec(h, { command: "version set 7", timeoutMs: 60_000 }).then(
          () => "ok",
          (e: unknown) => e,
        ),
      ),
    );
    // Every one takes 20-200 ms, so none is dropped; a sleep across the partition's start is.
    expect(errs.every((e) => e === "ok")).toBe(true);
    const dropped = await Promise.all(
      hosts.map((h) =>
        t
          .exec(h, { command: "sleep 15", timeoutMs: 60_000 })
          .catch((e: unknown) => (e as TransportError).kind),
      ),
    );
    expect(new Set(dropped)).toEqual(new Set(["dropped"]));
    const sleeps = world.ledger.filter((e) => e.command === "sleep 15");
    expect(sleeps.every((e) => e.outcome === "dropped (partition)")).toBe(true);
    const applied = sleeps.filter((e) => e.applied).length;
    expect(applied).toBeGreaterThan(3);
    expect(applied).toBeLessThan(21);
  });

  it("a dropped command that took effect really did: version set is visible afterwards", async () => {
    const clock = new VirtualClock();
    const { hosts } = generateFleet(parseFleetSpec("regions=1,hosts=16,racks=1,seed=1"));
    const scenario = parseScenarioText(
      "seed: 3\nfailures: [{ kind: partition, rack: r01-k01, from: 0.1s, until: 30s }]\n",
      "s.yaml",
    );
    const world = new SimWorld(clock, hosts, [], scenario);
    const t = world.transport();
    // Latency 20-200 ms: some answers come after the partition started at 100 ms.
    await Promise.all(
      hosts.map((h) => t.exec(h, { command: "version set 9", timeoutMs: 60_000 }).catch(() => undefined)),
    );
    await clock.sleep(31_000);
    const entries = world.ledger.filter((e) => e.command === "version set 9");
    expect(entries.some((e) => e.outcome.startsWith("dropped"))).toBe(true);
    for (const e of entries) {
      const h = hosts.find((x) => x.name === e.host) as (typeof hosts)[number];
      const v = await t.exec(h, { command: "version get", timeoutMs: 5_000 });
      expect(v.stdout === "9\n").toBe(e.applied === true);
    }
  });

  it("command-fails: matching commands exit 1 with no effect the first `times` times", async () => {
    const { run, world } = setup(
      'seed: 1\nfailures: [{ kind: command-fails, host: r01-h001, command: "version set", times: 2 }]\n',
    );
    expect((await run(0, "version set 1")).exitCode).toBe(1);
    expect((await run(0, "version set 1")).exitCode).toBe(1);
    expect((await run(0, "version get")).exitCode).toBe(1);
    expect((await run(0, "version set 1")).exitCode).toBe(0);
    expect((await run(1, "version set 1")).exitCode).toBe(0);
    expect(world.ledger.map((e) => [e.host, e.outcome, e.applied])).toEqual([
      ["r01-h001", "exit 1", false],
      ["r01-h001", "exit 1", false],
      ["r01-h001", "exit 1", true],
      ["r01-h001", "exit 0", true],
      ["r01-h002", "exit 0", true],
    ]);
  });

  it("a host that loses power while a command runs drops the command, which took no effect", async () => {
    // Both hosts share circuit r01-p01; at most 0 may POST, so h002's reboot trips h001 too.
    const { run, world } = setup(
      "seed: 1\nfailures: [{ kind: power-trip, power: r01-p01, maxPosting: 0, downFor: 1m }]\n",
    );
    const busy = run(0, "sleep 5").catch((e: unknown) => e);
    await run(1, "systemctl reboot");
    const err = await busy;
    expect(err).toBeInstanceOf(TransportError);
    expect((err as TransportError).kind).toBe("dropped");
    expect(world.ledger.find((e) => e.command === "sleep 5")).toMatchObject({
      outcome: "dropped (host went down)",
      applied: false,
    });
  });

  it("a killed coordinator's commands go on: to their end (with effect), or to their timeout on the host (without)", async () => {
    const { clock, hosts, world, t } = setup();
    const host = hosts[0]!;
    const stop = new AbortController();
    const call = (command: string, tag: string, timeoutMs: number) =>
      t.exec(host, { command, tag, timeoutMs, signal: stop.signal }).catch(() => "abandoned");
    const ends = call("version set 9", "v", 60_000);
    const fast = call("sleep 30", "fast", 60_000);
    const slow = call("sleep 600", "slow", 120_000);
    await clock.sleep(10_000);
    const asked = (tag: string) => t.running(host, { tag, timeoutMs: 60_000 });
    t.coordinatorKilled();
    stop.abort(new Error("killed"));
    expect(await Promise.all([fast, slow])).toEqual(["abandoned", "abandoned"]);
    expect(await ends).toMatchObject({ exitCode: 0 });
    expect([await asked("fast"), await asked("slow"), await asked("other")]).toEqual([true, true, false]);
    await t.outlived();
    expect(clock.now() - world.t0).toBeGreaterThanOrEqual(120_000);
    expect([await asked("fast"), await asked("slow")]).toEqual([false, false]);
    const mine = world.ledger
      .filter((e) => e.tag === "fast" || e.tag === "slow")
      .map((e) => [e.tag, e.outcome, e.applied]);
    expect(mine).toEqual([
      ["fast", "exit 0 (after its coordinator was killed)", true],
      ["slow", "stopped by its timeout on the host (its coordinator was killed)", false],
    ]);
    // `version set 9` ended (20-200 ms) before the kill, as its call had: it took effect once.
    expect(world.ledger.filter((e) => e.command === "version set 9").map((e) => e.outcome)).toEqual([
      "exit 0",
    ]);
  });
});
