/**
 * The `Transport` port: run a command on a host (local process, SSH, simulator).
 *
 * Invariants:
 * - `exec` resolves with the exit status whenever the command ran to completion, whatever the code.
 * - It rejects with `TransportError` when it could not: `unreachable`/`auth`/`hostkey` mean
 *   nothing ran; `timeout`/`dropped` mean the effect is unknown (the engine treats it as in doubt).
 * - Output is captured up to `maxOutputBytes` per stream and flagged as truncated beyond it.
 * - Secrets in `env` are never logged by a transport.
 * - `upload` and `running` are optional: a transport that cannot do them leaves them out, and
 *   callers check. `upload`: a transport that cannot copy files.
 *   It resolves once the whole file is written with its mode; on rejection the remote file may be
 *   missing or partial (`unreachable`/`auth`/`hostkey`: nothing was written).
 */
import type { Host } from "../core/model/fleet.js";

/** What an attempt tag (`ExecRequest.tag`) may be: it names a file on the host. */
export const ATTEMPT_TAG = /^[A-Za-z0-9._-]{1,200}$/;

export interface ExecRequest {
  command: string;
  timeoutMs: number;
  env?: Record<string, string>;
  /** Run with elevated privileges (sudo). */
  become?: boolean;
  maxOutputBytes?: number;
  signal?: AbortSignal;
  /**
   * The attempt this command belongs to (`ATTEMPT_TAG`: `[A-Za-z0-9._-]`, 1-200 characters). A transport
   * that has `running` leaves a marker on the host while the command runs, so the engine can ask
   * later whether it still does (after a dropped connection or a coordinator crash).
   */
  tag?: string;
}

/** What `running` is asked: the tag an `exec` was given, as the same user (`become`) it ran as. */
export interface RunningRequest {
  tag: string;
  become?: boolean;
  timeoutMs: number;
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

export interface UploadRequest {
  /** The file's bytes (a Buffer is a Uint8Array), or text written as UTF-8. */
  content: Uint8Array | string;
  /** Absolute path on the host; the file is replaced if it exists. */
  remotePath: string;
  /** Permission bits, e.g. 0o644; default 0o644. */
  mode?: number;
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface UploadResult {
  bytes: number;
  durationMs: number;
}

export interface Transport {
  exec(host: Host, req: ExecRequest): Promise<ExecResult>;
  /** Copy a file to the host (SFTP over SSH). Optional: not every transport can. */
  upload?(host: Host, req: UploadRequest): Promise<UploadResult>;
  /**
   * Is the command `exec`'d with `req.tag` still running on the host? Optional. `true`: it still
   * runs; `false`: nothing with that tag runs (it ended, or never started); `undefined`: cannot
   * tell (the host did not answer, or kept no marker). Never rejects but on abort.
   */
  running?(host: Host, req: RunningRequest): Promise<boolean | undefined>;
  close(): Promise<void>;
}
