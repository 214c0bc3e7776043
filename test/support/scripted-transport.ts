/**
 * A scripted Transport for engine tests on virtual time: each command is answered by a handler,
 * and every call is recorded in order (the test's ledger).
 */
import type { Host } from "../../src/core/model/fleet.js";
import type { Clock } from "../../src/ports/clock.js";
import type { ExecRequest, ExecResult, Transport } from "../../src/ports/transport.js";

export type Handler = (
  host: string,
  command: string,
  req: ExecRequest,
) => Promise<Partial<ExecResult> | undefined> | Partial<ExecResult> | undefined;

export class ScriptedTransport implements Transport {
  readonly calls: { host: string; command: string; at: number }[] = [];
  constructor(
    private readonly clock: Clock,
    private readonly handler: Handler,
  ) {}
  async exec(host: Host, req: ExecRequest): Promise<ExecResult> {
    this.calls.push({ host: host.name, command: req.command, at: this.clock.now() });
    const r = (await this.handler(host.name, req.command, req)) ?? {};
    return { exitCode: 0, signal: null, stdout: "", stderr: "", durationMs: 0, truncated: false, ...r };
  }
  async close(): Promise<void> {}
  count(host: string, command: string): number {
    return this.calls.filter((c) => c.host === host && c.command === command).length;
  }
}

export function makeHosts(n: number, opts: { regions?: number; racks?: number } = {}): Host[] {
  return Array.from({ length: n }, (_, i) => ({
    name: `h${String(i + 1).padStart(2, "0")}`,
    address: "127.0.0.1",
    connection: "local" as const,
    region: `r${(i % (opts.regions ?? 1)) + 1}`,
    failureDomains: { rack: `rack${(i % (opts.racks ?? 1)) + 1}` },
    role: "worker" as const,
    groups: ["all-test"],
    vars: {},
  }));
}
