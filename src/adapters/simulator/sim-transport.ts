/**
 * `SimTransport`: a `Transport` that answers for the hosts of a simulated world in virtual time,
 * injecting the failures of its scenario and recording every command in the world's ledger.
 *
 * Commands understood (exactly; anything else is simulated by the scenario's `unknownCommands`:
 * `succeed` exits 0, or 1 when it is a step's `check`, so the step runs; `fail` exits 127):
 * - boot id: `cat /proc/sys/kernel/random/boot_id` or the host's `overhaul_boot_id_command`
 * - reboot: `systemctl reboot` or the host's `overhaul_reboot_command` (goes down at once, comes
 *   back after a seeded boot time with a new boot id, unless a failure says otherwise)
 * - health: `systemctl is-system-running` or the host's `overhaul_health_command` (exit 0 `running`,
 *   or exit 1 `degraded` when unhealthy)
 * - the plan's own commands for what the simulator models (`PlanSteps`, given by the composition):
 *   a `reboot` step's `run` is that step's reboot, a `wait-healthy` step's `run` its health probe,
 *   answered from the health model the `Health` port uses (`healthOf`: unhealthy, or the clock off).
 *   Matched by the request's OVERHAUL_STEP and OVERHAUL_PHASE (`run`) and the exact command, so
 *   the same command elsewhere is simulated as any other.
 * - `true`, `false`, `sleep N` (seconds, virtual), `echo ...`, `date +%s` (host clock, skew applied),
 *   `version get` (exit 1 when unset), `version set V`
 * - a `command-fails` failure makes commands containing its `command` exit 1 on its target, the
 *   first `times` times, with no effect
 *
 * Invariants:
 * - Every command takes a seeded latency (20–200 ms) on the world's `Clock`; nothing reads real time.
 * - A host that is booting or dead, or partitioned away, when the command starts does not answer:
 *   the call rejects with `TransportError("unreachable")` after `CONNECT_TIMEOUT_MS` (10 s, what an
 *   SSH connect waits), or at the request's timeout if sooner, or with the signal's reason when it
 *   aborts; nothing ran (`applied: false`), and the ledger records it when the call gives up.
 *   `applied` is true when the command ran on the host (whatever its exit code), false when it did
 *   not (unreachable, timeout, not found, injected failure).
 * - A partition starting while a command is in flight rejects it with `dropped`; the command took
 *   effect anyway with probability 1/2 (a seeded coin per host), and the ledger says which
 *   (`applied`). That is what makes an attempt truly "in doubt" for the engine. A host that goes
 *   down while a command runs on it (power trip) also drops it; that command had no effect.
 * - Ledger entries of commands carry `runId`, `step`, `phase`, `attempt` from the request's
 *   OVERHAUL_RUN_ID, OVERHAUL_STEP, OVERHAUL_PHASE, OVERHAUL_ATTEMPT, and `tag` from its `tag`
 *   (each only when present).
 * - A coordinator killed (SIGKILL: `coordinatorKilled`, called by the simulation before it stops
 *   the coordinator dead) sends no TERM: each command it had running goes on on its host and ends
 *   when it would have (or at its timeout, which the host enforces: then without effect); it
 *   takes effect then if its host is still up and was not rebooted
 *   meanwhile (a partition does not stop it), and its ledger entry says so (`... after its
 *   coordinator was killed`). Until then `running` (is an attempt's command still running?, asked
 *   like a command) answers `true` for its tag; otherwise `false` when the host answers: every other
 *   command takes effect, or not, at the instant its answer comes or is dropped. A command stopped
 *   by its own call's abort (a timeout, a shutdown) has no effect. `outlived()` settles once every
 *   such command has ended.
 * - Same scenario, same fleet, same engine inputs -> identical ledger.
 */
import type { Host } from "../../core/model/fleet.js";
import type { Step } from "../../core/plan/compile.js";
import { seededRandom } from "../../core/policy/random.js";
import type { LedgerEntry } from "../../core/sim/ledger.js";
import type { ExecRequest, ExecResult, RunningRequest, Transport } from "../../ports/transport.js";
import { hashOf, healthOf, noAnswer, type SimHost, simFailure } from "./sim-host.js";
import type { WorldState } from "./world-state.js";

const BOOT_ID = "cat /proc/sys/kernel/random/boot_id";
const REBOOT = "systemctl reboot";
const HEALTH = "systemctl is-system-running";
/** Chance that a command whose answer a partition dropped took effect anyway. */
const APPLIED_WHEN_DROPPED = 0.5;

/** The steps of the plan a simulated world rehearses: what the simulator reads of them. */
export type PlanSteps = readonly Pick<Step, "name" | "kind" | "run">[];

/** What a step's own command is to the simulator (see the header). */
type StepRole = { role: "reboot" | "health"; command: string };

export class SimTransport implements Transport {
  private readonly latency: { next(): number };
  private readonly coins = new Map<string, { next(): number }>();
  /** Times each `command-fails` failure has failed a command, per host. */
  private readonly failed = new Map<string, number>();
  /** Step name -> its own reboot command or health probe (see the header). */
  private readonly roles = new Map<string, StepRole>();
  /** Coordinators killed so far: a command whose call began under an earlier count outlives it. */
  private kills = 0;
  /** `host\0tag` -> when the command a killed coordinator left running ends. */
  private readonly outliving = new Map<string, number>();
  /** The ends of those commands (see `outlived`). */
  private readonly outlivingEnds: Promise<void>[] = [];

  constructor(
    private readonly world: WorldState,
    steps: PlanSteps = [],
  ) {
    this.latency = seededRandom(world.scenario.seed ^ 0x5eed);
    for (const st of steps) {
      const command = st.run?.trim();
      if (!command) continue;
      if (st.kind === "reboot") this.roles.set(st.name, { role: "reboot", command });
      else if (st.kind === "wait-healthy") this.roles.set(st.name, { role: "health", command });
    }
  }

  async exec(host: Host, req: ExecRequest): Promise<ExecResult> {
    const { world } = this;
    const { clock } = world;
    const h = world.simHost(host.name);
    const cmd = req.command.trim();
    if (!h) throw simFailure("unreachable", `sim: unknown host ${host.name}`);
    const start = clock.now();
    const why = world.unreachable(h, start);
    if (why !== undefined) {
      await noAnswer(clock, start + req.timeoutMs, req.signal);
      this.record(h, cmd, `unreachable (${why})`, false, req);
      throw simFailure("unreachable", `sim: ${host.name} unreachable (${why})`);
    }
    const latencyMs = this.latencyMs();
    const extra = sleepMs(cmd);
    const boots = h.boots;
    const kills = this.kills;
    // The command runs on the host from now until it ends, or its timeout there stops it,
    // whatever becomes of this call.
    const completes = latencyMs + extra <= req.timeoutMs;
    const ends = start + (completes ? latencyMs + extra : req.timeoutMs);
    const sleep = (ms: number) =>
      clock.sleep(ms, req.signal).catch((e: unknown) => {
        if (this.kills !== kills) this.outlive(h, cmd, req, { ends, completes, boots });
        throw e;
      });
    if (!completes) {
      await sleep(req.timeoutMs);
      this.record(h, cmd, "timeout", false, req);
      throw simFailure("timeout", `sim: ${cmd} on ${host.name} timed out`);
    }
    await sleep(latencyMs + extra);
    const now = clock.now();
    world.sync();
    const down = h.state !== "up" || h.boots !== boots;
    if (down || world.partitioned(h, now, now)) {
      const why = down ? "host went down" : "partition";
      const ran = !down && this.coin(h).next() < APPLIED_WHEN_DROPPED;
      const applied = ran && this.effect(h, cmd, req.env).applied;
      this.record(h, cmd, `dropped (${why})`, applied, req);
      throw simFailure("dropped", `sim: connection to ${host.name} dropped (${why})`);
    }
    const { exitCode, stdout, stderr, applied } = this.effect(h, cmd, req.env);
    this.record(h, cmd, `exit ${exitCode}`, applied, req);
    return { exitCode, signal: null, stdout, stderr, durationMs: clock.now() - start, truncated: false };
  }

  /**
   * Whether a command still runs on the host (`Transport.running`): asked like any command (a
   * host that does not answer costs the connect timeout, and then nobody can tell), and answered
   * `false`: a simulated command takes effect, or not, at the instant its answer comes or is
   * dropped, so none outlives its call.
   */
  async running(host: Host, req: RunningRequest): Promise<boolean | undefined> {
    const { world } = this;
    const { clock } = world;
    const h = world.simHost(host.name);
    if (!h) return undefined;
    const start = clock.now();
    if (world.unreachable(h, start) !== undefined) {
      await noAnswer(clock, start + req.timeoutMs, req.signal);
      return undefined;
    }
    await clock.sleep(this.latencyMs(), req.signal);
    return (this.outliving.get(`${host.name}\u0000${req.tag}`) ?? Number.NEGATIVE_INFINITY) > clock.now();
  }

  /** The coordinator driving now is killed: its commands go on on their hosts (see the header). */
  coordinatorKilled(): void {
    this.kills++;
  }

  /** Settles once every command a killed coordinator left running has ended (see the header). */
  async outlived(): Promise<void> {
    while (this.outlivingEnds.length > 0) await Promise.all(this.outlivingEnds.splice(0));
  }

  /**
   * A killed coordinator's command `cmd` goes on on `h` until `ends`: it `completes` then, or the
   * host's own timeout stops it (no effect), as on a real host (see the header).
   */
  private outlive(
    h: SimHost,
    cmd: string,
    req: ExecRequest,
    { ends, completes, boots }: { ends: number; completes: boolean; boots: number },
  ): void {
    const { world } = this;
    const key = req.tag === undefined ? undefined : `${h.host.name}\u0000${req.tag}`;
    if (key !== undefined) this.outliving.set(key, ends);
    this.outlivingEnds.push(
      new Promise<void>((resolve) => {
        world.clock.timer(Math.max(0, ends - world.clock.now()), () => {
          if (key !== undefined && this.outliving.get(key) === ends) this.outliving.delete(key);
          world.sync();
          if (h.state !== "up" || h.boots !== boots)
            this.record(h, cmd, "ended with its host (its coordinator was killed)", false, req);
          else if (!completes)
            this.record(
              h,
              cmd,
              "stopped by its timeout on the host (its coordinator was killed)",
              false,
              req,
            );
          else {
            const { exitCode, applied } = this.effect(h, cmd, req.env);
            this.record(h, cmd, `exit ${exitCode} (after its coordinator was killed)`, applied, req);
          }
          resolve();
        });
      }),
    );
  }

  async close(): Promise<void> {}

  /** The seeded latency of one call (20-200 ms, see the header). */
  private latencyMs(): number {
    return 20 + Math.floor(this.latency.next() * 180);
  }

  /** Run the command on the host: an injected `command-fails` failure, or the command itself. */
  private effect(
    h: SimHost,
    cmd: string,
    env: ExecRequest["env"],
  ): { exitCode: number; stdout: string; stderr: string; applied: boolean } {
    if (this.injectedFailure(h, cmd))
      return { exitCode: 1, stdout: "", stderr: `sim: injected failure of ${cmd}\n`, applied: false };
    const [exitCode, stdout, stderr] = this.interpret(h, cmd, env?.OVERHAUL_PHASE, env?.OVERHAUL_STEP);
    return { exitCode, stdout, stderr, applied: exitCode !== 127 };
  }

  /** A `command-fails` failure for this host and command that has not used up its `times`. */
  private injectedFailure(h: SimHost, cmd: string): boolean {
    for (const f of this.world.failuresOf(h)) {
      if (f.kind !== "command-fails" || !cmd.includes(f.command)) continue;
      const key = `${this.world.scenario.failures.indexOf(f)}/${h.host.name}`;
      const n = this.failed.get(key) ?? 0;
      if (n >= f.times) continue;
      this.failed.set(key, n + 1);
      return true;
    }
    return false;
  }

  private interpret(
    h: SimHost,
    cmd: string,
    phase: string | undefined,
    step: string | undefined,
  ): [number, string, string] {
    const own = phase === "run" && step !== undefined ? this.roles.get(step) : undefined;
    if (own !== undefined && cmd === own.command) {
      if (own.role === "reboot") {
        this.world.reboot(h);
        return [0, "", ""];
      }
      const r = healthOf(h);
      return r.healthy ? [0, `${r.detail}\n`, ""] : [1, "", `sim: unhealthy: ${r.detail}\n`];
    }
    const v = h.host.vars;
    if (cmd === str(v.overhaul_boot_id_command, BOOT_ID)) return [0, `${h.bootId}\n`, ""];
    if (cmd === str(v.overhaul_reboot_command, REBOOT)) {
      this.world.reboot(h);
      return [0, "", ""];
    }
    if (cmd === str(v.overhaul_health_command, HEALTH))
      return h.healthy ? [0, "running\n", ""] : [1, "degraded\n", ""];
    if (cmd === "true") return [0, "", ""];
    if (cmd === "false") return [1, "", ""];
    if (/^sleep \d+(\.\d+)?$/.test(cmd)) return [0, "", ""];
    if (cmd === "echo" || cmd.startsWith("echo ")) return [0, `${cmd.slice(5)}\n`, ""];
    if (cmd === "date +%s") return [0, `${Math.floor(this.world.clock.now() / 1000) + h.skewSeconds}\n`, ""];
    if (cmd === "version get")
      return h.version === undefined ? [1, "", "no version installed\n"] : [0, `${h.version}\n`, ""];
    const set = /^version set (\S+)$/.exec(cmd);
    if (set) {
      h.version = set[1];
      return [0, "", ""];
    }
    if (this.world.scenario.unknownCommands === "fail") return [127, "", `sim: command not found: ${cmd}\n`];
    // A rehearsal of a real plan: the command is taken to work; its check says "not done yet".
    return phase === "check" ? [1, "", "sim: not done yet (simulated check)\n"] : [0, "", ""];
  }

  /** The host's own coin for dropped commands, so its fate does not depend on other hosts. */
  private coin(h: SimHost): { next(): number } {
    let c = this.coins.get(h.host.name);
    if (!c) {
      c = seededRandom(hashOf(`${this.world.scenario.seed}/dropped/${h.host.name}`));
      this.coins.set(h.host.name, c);
    }
    return c;
  }

  private record(h: SimHost, command: string, outcome: string, applied: boolean, req: ExecRequest): void {
    // Built in place, in the field order `append` would give (at first), without spreading copies:
    // most of a large run's ledger is these entries (the polls of booting hosts).
    const e: LedgerEntry = { at: this.world.clock.now(), host: h.host.name, command, outcome, applied };
    const env = req.env;
    if (env) {
      if (env.OVERHAUL_RUN_ID !== undefined) e.runId = env.OVERHAUL_RUN_ID;
      if (env.OVERHAUL_STEP !== undefined) e.step = env.OVERHAUL_STEP;
      if (env.OVERHAUL_PHASE !== undefined) e.phase = env.OVERHAUL_PHASE;
      const attempt = Number(env.OVERHAUL_ATTEMPT);
      if (env.OVERHAUL_ATTEMPT !== undefined && Number.isInteger(attempt)) e.attempt = attempt;
    }
    if (req.tag !== undefined) e.tag = req.tag;
    this.world.appendEntry(e);
  }
}

function str(v: unknown, dflt: string): string {
  return typeof v === "string" && v.trim() ? v.trim() : dflt;
}

function sleepMs(cmd: string): number {
  const m = /^sleep (\d+(?:\.\d+)?)$/.exec(cmd);
  return m ? Math.round(Number(m[1]) * 1000) : 0;
}
