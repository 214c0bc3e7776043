/**
 * A Transport that does no I/O: every command "ran" and exited 0, answered at once, in process.
 *
 * Why: the engine benchmark measures the durable engine (the coordinator, host flows and store
 * commits), not process spawning or SSH. With this transport the only real I/O left in a run is
 * the store's, so the run's rate can be compared with the raw commit rate of the same database.
 *
 * Invariant: it counts the commands it was asked to run, so the benchmark can check that the run
 * really did every step on every host.
 */
import type { Host } from "../src/core/model/fleet.js";
import type { ExecRequest, ExecResult, Transport } from "../src/ports/transport.js";

export class NullTransport implements Transport {
  execs = 0;

  async exec(_host: Host, _req: ExecRequest): Promise<ExecResult> {
    this.execs++;
    return { exitCode: 0, signal: null, stdout: "", stderr: "", durationMs: 0, truncated: false };
  }

  async close(): Promise<void> {}
}
