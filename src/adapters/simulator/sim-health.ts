/**
 * `SimHealth`: the `Health` port on a simulated world. Is the host fit to take workloads back?
 *
 * Invariants:
 * - A host that is booting, dead or partitioned away when the check starts does not answer: it
 *   rejects with `TransportError("unreachable")` after `CONNECT_TIMEOUT_MS` (or at the deadline if
 *   sooner), recorded then; one that goes away during the check rejects so at once. An answer
 *   that would come after the deadline rejects with `timeout`; abort rejects with the signal's
 *   reason. Everything else is a value: healthy, or unhealthy with the reason.
 * - Unhealthy when the scenario made the host come back unhealthy, or when its clock is off by
 *   more than the host's `overhaul_max_clock_skew_seconds` (default 2).
 * - Each check takes a seeded 20-200 ms on the world's clock and is recorded as `@health`.
 */
import type { Host } from "../../core/model/fleet.js";
import { seededRandom } from "../../core/policy/random.js";
import type { Health, HealthResult } from "../../ports/health.js";
import { healthOf, noAnswer, type SimHost, simFailure } from "./sim-host.js";
import type { WorldState } from "./world-state.js";

export class SimHealth implements Health {
  private readonly latency: { next(): number };

  constructor(private readonly world: WorldState) {
    this.latency = seededRandom(world.scenario.seed ^ 0x4ea1);
  }

  async check(host: Host, opts: { signal: AbortSignal; deadline: number }): Promise<HealthResult> {
    const { world } = this;
    if (opts.signal.aborted) throw opts.signal.reason;
    const h = world.simHost(host.name);
    if (!h) throw simFailure("unreachable", `sim: health: unknown host ${host.name}`);
    const why = world.unreachable(h);
    if (why !== undefined) {
      // No answer: the check gives up at the connect timeout (or its deadline, or abort).
      await noAnswer(world.clock, opts.deadline, opts.signal);
      this.unreachable(h, why);
    }
    const ms = 20 + Math.floor(this.latency.next() * 180);
    const now = world.clock.now();
    if (now + ms > opts.deadline) {
      await world.clock.sleep(Math.max(0, opts.deadline - now), opts.signal);
      world.append({ host: h.host.name, command: "@health", outcome: "timeout" });
      throw simFailure("timeout", `sim: health check of ${host.name} timed out`);
    }
    await world.clock.sleep(ms, opts.signal);
    const gone = world.unreachable(h);
    if (gone !== undefined) this.unreachable(h, gone);
    const r = healthOf(h);
    world.append({
      host: h.host.name,
      command: "@health",
      outcome: r.healthy ? "healthy" : `unhealthy: ${r.detail}`,
    });
    return r;
  }

  private unreachable(h: SimHost, why: string): never {
    this.world.append({ host: h.host.name, command: "@health", outcome: `unreachable (${why})` });
    throw simFailure("unreachable", `sim: health: ${h.host.name} unreachable (${why})`);
  }
}
