/**
 * One command on one SSH channel: open the session, send the command (and the sudo password on
 * stdin), capture output, wait for the exit status, enforce the timeout and the abort signal.
 *
 * Invariants:
 * - Resolves with the exit status (or the signal) whenever the server reported one.
 * - Rejects with what is known about the effect:
 *     `ChannelRefused`  the server refused a new channel on a live connection; nothing ran
 *                       (the caller lowers the connection's cap and tries again);
 *     `unreachable`     the session could not be opened or the server refused the exec; nothing ran;
 *     `timeout`         the command ran past its time: TERM, then KILL after the grace, then
 *                       the channel is closed; effect unknown;
 *     `dropped`         the connection (or session) ended without an exit status, or the caller
 *                       aborted; effect unknown.
 * - stdin stays open while the command runs (ssh2 sends no signal request on a half-closed
 *   channel) and is closed at the exit status (OpenSSH's sshd closes the session only then).
 * - After the exit status, the result is returned when the channel closes or at most 250 ms later
 *   (a background process may hold the output open, as with the local transport).
 * - Output is kept per stream up to the limit (the tail); the password written to stdin never
 *   appears in any message or result built here.
 */
import { performance } from "node:perf_hooks";
import type { ClientChannel } from "ssh2";
import { TransportError } from "../../core/errors.js";
import { TailBuffer } from "../../core/output/tail-buffer.js";
import type { ExecResult } from "../../ports/transport.js";
import type { RemoteCommand } from "./command.js";
import type { Lease } from "./pool.js";

const DRAIN_MS = 250;
const MAX_TIMER_MS = 2_147_483_647;

/** The server refused to open a channel on a connection that is still alive. */
export class ChannelRefused extends Error {}

export interface ChannelRun {
  lease: Lease;
  who: string;
  command: RemoteCommand;
  /** Time left for the command, from now. */
  timeoutMs: number;
  /** For the error message: the timeout as the caller gave it. */
  timeoutLabelMs: number;
  maxOutputBytes: number;
  killGraceMs: number;
  signal?: AbortSignal;
  /** performance.now() when the request arrived, for `durationMs`. */
  started: number;
}

export function runOnChannel(run: ChannelRun): Promise<ExecResult> {
  const { lease, who } = run;
  return new Promise<ExecResult>((resolve, reject) => {
    const stdout = new TailBuffer(run.maxOutputBytes);
    const stderr = new TailBuffer(run.maxOutputBytes);
    let channel: ClientChannel | undefined;
    let exit: { code: number | null; signal: string | null } | undefined;
    let stopping: TransportError | undefined;
    let settled = false;
    let drainTimer: NodeJS.Timeout | undefined;
    let killTimer: NodeJS.Timeout | undefined;

    const cleanup = () => {
      clearTimeout(timer);
      clearTimeout(drainTimer);
      clearTimeout(killTimer);
      run.signal?.removeEventListener("abort", onAbort);
    };
    const fail = (e: Error) => {
      if (settled) return;
      settled = true;
      cleanup();
      reject(e);
    };
    const succeed = () => {
      if (settled || !exit) return;
      settled = true;
      cleanup();
      if (channel && !channel.destroyed) channel.close();
      resolve({
        exitCode: exit.code,
        signal: exit.signal,
        stdout: stdout.text(),
        stderr: stderr.text(),
        durationMs: performance.now() - run.started,
        truncated: stdout.truncated || stderr.truncated,
      });
    };
    const stop = (err: TransportError) => {
      if (settled || exit || stopping) return;
      stopping = err;
      if (!channel) {
        // Still opening: give the open a grace period, then give up on it.
        killTimer = setTimeout(() => fail(err), run.killGraceMs);
        return;
      }
      const ch = channel;
      trySignal(ch, "TERM");
      killTimer = setTimeout(() => {
        trySignal(ch, "KILL");
        ch.close();
        fail(err);
      }, run.killGraceMs);
    };

    const timer = setTimeout(
      () =>
        stop(
          new TransportError(
            "timeout",
            `${who}: the command timed out after ${run.timeoutLabelMs} ms and was stopped; its effect is unknown`,
          ),
        ),
      Math.min(Math.max(run.timeoutMs, 0), MAX_TIMER_MS),
    );
    const onAbort = () =>
      stop(
        new TransportError("dropped", `${who}: the command was aborted while it ran; its effect is unknown`),
      );
    run.signal?.addEventListener("abort", onAbort, { once: true });

    try {
      lease.client.exec(run.command.line, (err, ch) => {
        if (err) {
          const reason = (err as Error & { reason?: number }).reason;
          if (stopping) return fail(stopping);
          if (reason !== undefined && !lease.dead) return fail(new ChannelRefused(err.message));
          if (lease.dead && err.message !== "No response from server") {
            // The exec request was sent and the connection died before the answer: it may have run.
            return fail(
              new TransportError(
                "dropped",
                `${who}: the connection was lost while the command was being started; its effect is unknown`,
                { cause: err },
              ),
            );
          }
          return fail(
            new TransportError(
              "unreachable",
              `${who}: could not start the command: ${lease.dead ? "the connection was lost" : err.message}; nothing ran`,
              { cause: err },
            ),
          );
        }
        channel = ch;
        if (settled) {
          ch.close();
          return;
        }
        if (stopping) {
          const s = stopping;
          trySignal(ch, "KILL");
          ch.close();
          return fail(s);
        }
        ch.on("data", (chunk: Buffer) => stdout.push(chunk));
        ch.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
        ch.on("error", () => undefined);
        ch.on("exit", (code: number | null, signal?: string) => {
          if (exit) return;
          exit = { code: typeof code === "number" ? code : null, signal: signal ?? null };
          // OpenSSH's sshd closes the session only once our side of stdin is closed too.
          ch.end();
          if (stopping) return; // stop() decides when to reject
          drainTimer = setTimeout(succeed, DRAIN_MS);
        });
        ch.on("close", () => {
          if (stopping) return fail(stopping);
          if (exit) return succeed();
          fail(
            new TransportError(
              "dropped",
              lease.dead
                ? `${who}: the connection was lost while the command ran; its effect is unknown`
                : `${who}: the server ended the session without an exit status; the command's effect is unknown`,
            ),
          );
        });
        // stdin stays open until the command exits: ssh2 sends no signal on a half-closed channel.
        if (run.command.stdin !== undefined) ch.write(run.command.stdin);
      });
    } catch (e) {
      fail(
        new TransportError(
          "unreachable",
          `${who}: the connection is not usable: ${(e as Error).message}; nothing ran`,
          {
            cause: e,
          },
        ),
      );
    }
  });
}

function trySignal(ch: ClientChannel, name: string): void {
  try {
    ch.signal(name);
  } catch {
    // The channel may be closing already.
  }
}
