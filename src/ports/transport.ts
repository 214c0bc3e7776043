/**
 * The `Transport` port: run a command on a host (local process, SSH, simulator).
 *
 * Invariants:
 * - `exec` resolves with the exit status whenever the command ran to completion, whatever the code.
 * - It rejects with `TransportError` when it could not: `unreachable`/`auth`/`hostkey` mean
 *   nothing ran; `timeout`/`dropped` mean the effect is unknown (the engine treats it as in doubt).
 * - Output is captured up to `maxOutputBytes` per stream and flagged as truncated beyond it.
 * - Secrets in `env` are never logged by a transport.
 */
import type { Host } from "../core/model/fleet.js";

export interface ExecRequest {
  command: string;
  timeoutMs: number;
  env?: Record<string, string>;
  /** Run with elevated privileges (sudo). */
  become?: boolean;
  maxOutputBytes?: number;
  signal?: AbortSignal;
}

export interface ExecResult {
  exitCode: number | null;
  /** Signal that ended the process, if any. */
  signal: string | null;
  stdout: string;
  stderr: string;
  durationMs: number;
  truncated: boolean;
}

export interface Transport {
  exec(host: Host, req: ExecRequest): Promise<ExecResult>;
  close(): Promise<void>;
}
