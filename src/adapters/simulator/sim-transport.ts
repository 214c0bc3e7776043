/**
 * `SimTransport`: a `Transport` that answers for simulated hosts in virtual time, injecting the
 * failures of a scenario and recording every command and effect in a ledger.
 *
 * Commands understood (exactly; anything else exits 127):
 * - boot id: `cat /proc/sys/kernel/random/boot_id` or the host's `overhaul_boot_id_command`
 * - reboot: `systemctl reboot` or the host's `overhaul_reboot_command` (goes down at once, comes
 *   back after a seeded boot time with a new boot id, unless a failure says otherwise)
 * - health: `systemctl is-system-running` or the host's `overhaul_health_command` (exit 0 `running`,
 *   or exit 1 `degraded` when unhealthy)
 * - `true`, `false`, `sleep N` (seconds, virtual), `echo ...`, `date +%s` (host clock, skew applied),
 *   `version get` (exit 1 when unset), `version set V`
 *
 * Invariants:
 * - Every command takes a seeded latency (20–200 ms) on the injected `Clock`; nothing reads real time.
 * - A host that is booting or dead, or partitioned away, rejects with `TransportError("unreachable")`;
 *   a partition starting while a command is in flight rejects it with `dropped`.
 * - Same scenario, same fleet, same engine inputs -> identical ledger.
 */
import { TransportError } from "../../core/errors.js";
import type { Host } from "../../core/model/fleet.js";
import { seededRandom } from "../../core/policy/random.js";
import type { FailureSpec, Scenario } from "../../core/sim/scenario.js";
import type { Clock } from "../../ports/clock.js";
import type { ExecRequest, ExecResult, Transport } from "../../ports/transport.js";
import { bootIdOf, diskDies, failuresFor, newSimHost, type SimHost } from "./sim-host.js";

const BOOT_ID = "cat /proc/sys/kernel/random/boot_id";
const REBOOT = "systemctl reboot";
const HEALTH = "systemctl is-system-running";
const KEXEC_MS = { min: 10_000, max: 30_000 };

export interface LedgerEntry {
  at: number;
  host: string;
  /** The command, or an effect: `@up`, `@power-trip`, `@dead`. */
  command: string;
  outcome: string;
}

export class SimTransport implements Transport {
  readonly ledger: LedgerEntry[] = [];
  private readonly hosts = new Map<string, SimHost>();
  private readonly latency: { next(): number };
  /** Virtual time the simulation started; scenario times (`partition.from`) are relative to it. */
  private readonly t0: number;

  constructor(
    private readonly clock: Clock,
    hosts: readonly Host[],
    private readonly scenario: Scenario,
  ) {
    for (const h of hosts) this.hosts.set(h.name, newSimHost(h, scenario.seed));
    this.latency = seededRandom(scenario.seed ^ 0x5eed);
    this.t0 = clock.now();
  }

  /** The simulated state of a host (for tests). */
  stateOf(name: string): SimHost | undefined {
    const h = this.hosts.get(name);
    if (h) this.refresh(h);
    return h;
  }

  async exec(host: Host, req: ExecRequest): Promise<ExecResult> {
    const h = this.hosts.get(host.name);
    const cmd = req.command.trim();
    if (!h) throw new TransportError("unreachable", `sim: unknown host ${host.name}`);
    const start = this.clock.now();
    this.refresh(h);
    if (this.partitioned(h, start) || h.state !== "up") {
      const why = h.state === "up" ? "partitioned" : h.state;
      this.record(h, cmd, `unreachable (${why})`);
      throw new TransportError("unreachable", `sim: ${host.name} unreachable (${why})`);
    }
    const latencyMs = 20 + Math.floor(this.latency.next() * 180);
    const extra = sleepMs(cmd);
    if (latencyMs + extra > req.timeoutMs) {
      await this.clock.sleep(req.timeoutMs, req.signal);
      this.record(h, cmd, "timeout");
      throw new TransportError("timeout", `sim: ${cmd} on ${host.name} timed out`);
    }
    await this.clock.sleep(latencyMs + extra, req.signal);
    if (!this.partitioned(h, start) && this.partitioned(h, this.clock.now())) {
      this.record(h, cmd, "dropped");
      throw new TransportError("dropped", `sim: connection to ${host.name} dropped (partition)`);
    }
    const [exitCode, stdout, stderr] = this.interpret(h, cmd);
    this.record(h, cmd, `exit ${exitCode}`);
    return { exitCode, signal: null, stdout, stderr, durationMs: this.clock.now() - start, truncated: false };
  }

  async close(): Promise<void> {}

  private interpret(h: SimHost, cmd: string): [number, string, string] {
    const v = h.host.vars;
    if (cmd === str(v.overhaul_boot_id_command, BOOT_ID)) return [0, `${h.bootId}\n`, ""];
    if (cmd === str(v.overhaul_reboot_command, REBOOT)) {
      this.reboot(h);
      return [0, "", ""];
    }
    if (cmd === str(v.overhaul_health_command, HEALTH))
      return h.healthy ? [0, "running\n", ""] : [1, "degraded\n", ""];
    if (cmd === "true") return [0, "", ""];
    if (cmd === "false") return [1, "", ""];
    if (/^sleep \d+(\.\d+)?$/.test(cmd)) return [0, "", ""];
    if (cmd === "echo" || cmd.startsWith("echo ")) return [0, `${cmd.slice(5)}\n`, ""];
    if (cmd === "date +%s") return [0, `${Math.floor(this.clock.now() / 1000) + h.skewSeconds}\n`, ""];
    if (cmd === "version get")
      return h.version === undefined ? [1, "", "no version installed\n"] : [0, `${h.version}\n`, ""];
    const set = /^version set (\S+)$/.exec(cmd);
    if (set) {
      h.version = set[1];
      return [0, "", ""];
    }
    return [127, "", `sim: command not found: ${cmd}\n`];
  }

  private reboot(h: SimHost): void {
    const now = this.clock.now();
    const fs = failuresFor(this.scenario, h.host);
    const dies = fs.some((f) => f.kind === "never-returns" || (f.kind === "disk-dies" && diskDies(h, f)));
    this.startBoot(h, now);
    if (dies) {
      h.state = "dead";
      this.ledger.push({ at: now, host: h.host.name, command: "@dead", outcome: "never returns" });
      return;
    }
    h.healthy = !fs.some((f) => f.kind === "unhealthy");
    const skew = fs.find((f) => f.kind === "clock-skew");
    h.skewSeconds = skew?.kind === "clock-skew" ? skew.seconds : 0;
    for (const f of fs) if (f.kind === "power-trip") this.maybeTrip(h, f, now);
  }

  private startBoot(h: SimHost, now: number): void {
    const { min, max } = this.scenario.boot.kexec ? KEXEC_MS : this.scenario.boot;
    h.state = "booting";
    h.upAt = now + min + Math.floor(h.rnd.next() * (max - min + 1));
  }

  /** More than `maxPosting` hosts of the circuit booting at once: every host on it goes down. */
  private maybeTrip(h: SimHost, f: FailureSpec & { kind: "power-trip" }, now: number): void {
    const circuit = [...this.hosts.values()].filter(
      (x) => x.host.failureDomains.power === h.host.failureDomains.power,
    );
    for (const x of circuit) this.refresh(x);
    if (circuit.filter((x) => x.state === "booting").length <= f.maxPosting) return;
    this.ledger.push({
      at: now,
      host: h.host.name,
      command: "@power-trip",
      outcome: `circuit ${h.host.failureDomains.power}`,
    });
    for (const x of circuit) {
      if (x.state === "dead") continue;
      this.startBoot(x, now + f.downFor);
      this.ledger.push({ at: now, host: x.host.name, command: "@down", outcome: "power trip" });
    }
  }

  private refresh(h: SimHost): void {
    if (h.state !== "booting" || this.clock.now() < h.upAt) return;
    h.state = "up";
    h.boots++;
    h.bootId = bootIdOf(h);
    this.ledger.push({ at: h.upAt, host: h.host.name, command: "@up", outcome: h.bootId });
  }

  private partitioned(h: SimHost, at: number): boolean {
    return failuresFor(this.scenario, h.host).some(
      (f) => f.kind === "partition" && at - this.t0 >= f.from && at - this.t0 < f.until,
    );
  }

  private record(h: SimHost, command: string, outcome: string): void {
    this.ledger.push({ at: this.clock.now(), host: h.host.name, command, outcome });
  }
}

function str(v: unknown, dflt: string): string {
  return typeof v === "string" && v.trim() ? v.trim() : dflt;
}

function sleepMs(cmd: string): number {
  const m = /^sleep (\d+(?:\.\d+)?)$/.exec(cmd);
  return m ? Math.round(Number(m[1]) * 1000) : 0;
}
