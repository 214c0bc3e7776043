/**
 * One command on one SSH channel: open the session with the fixed exec line, give sudo its
 * password when it asks, send the script on stdin, capture output, wait for the exit status,
 * enforce the timeout and the abort signal (the protocol: session-start.ts, decision 0013).
 *
 * Invariants:
 * - Resolves with the exit status (or the signal) whenever the server reported one.
 * - Rejects with what is known about the effect:
 *     `ChannelRefused`  the server refused a new channel on a live connection; nothing ran
 *                       (the caller lowers the connection's cap and tries again);
 *     `unreachable`     the session could not be opened or the server refused the exec; nothing ran;
 *     `timeout`         the command ran past its time; effect unknown. Two cases, told apart by
 *                       `TransportError.stoppedOnHost`: with a host-side limit (`hostLimitMs`, command.ts) the
 *                       host's `timeout` ended it (status 124 or 137, or killed by KILL/TERM, at
 *                       or after the limit) and the rejection comes only once the exit status has
 *                       arrived, so nothing of the command still runs (true); otherwise (no
 *                       host-side limit, or no exit status by the limit + grace + margin) TERM,
 *                       then KILL after the grace, as "signal" requests (which servers may
 *                       ignore), then the channel is closed, and the command may still run (false);
 *     `dropped`         the connection (or session) ended without an exit status, or the caller
 *                       aborted; effect unknown.
 *                       A `timeout` or `dropped` before the script was written becomes
 *                       `unreachable` (nothing ran: the host never had the command), or
 *                       `BecomeRefused` when sudo held it (no prompt Overhaul knows, no start);
 *     `BecomeRefused`   sudo asked again for the password (a wrong one): the channel is closed at
 *                       once instead of waiting for the timeout; nothing ran.
 * - Resolves `started: false` when the shell's start line never came (sudo refused, the login
 *   shell would not run `/bin/sh`, or a shell that sends its stderr elsewhere ran it anyway), and
 *   `scriptSent` says whether the script went out; the caller judges (transport.ts `judged`). That
 *   is decided only once the channel has closed (all output arrived), never on the status alone.
 * - The script is written at once without a password, and with one only after the shell started
 *   (the password, if sudo asked, went first), so sudo never reads the script as a password.
 * - stdin stays open while the command runs (ssh2 sends no signal request on a half-closed
 *   channel) and is closed at the exit status (OpenSSH's sshd closes the session only then).
 * - After the exit status, the result is returned when the channel closes or at most 250 ms later
 *   (a background process may hold the output open, as with the local transport).
 * - Output is kept per stream up to the limit (the tail); stderr before the shell started is
 *   sudo's, kept apart (`said`), not the command's. The password written to stdin never appears
 *   in any message or result built here.
 */
import { performance } from "node:perf_hooks";
import type { ClientChannel } from "ssh2";
import { TransportError } from "../../core/errors.js";
import { TailBuffer } from "../../core/output/tail-buffer.js";
import type { ExecResult } from "../../ports/transport.js";
import type { RemoteCommand } from "./command.js";
import type { Lease } from "./pool.js";
import { StartWatch } from "./session-start.js";

const DRAIN_MS = 250;
/**
 * With a host-side limit, how long past the limit plus its kill grace the client waits for the
 * exit status before it gives up on the host (network latency, a busy host, a slow `sudo`).
 */
export const HOST_LIMIT_MARGIN_MS = 2_000;
/** `timeout`'s status when it ended the command with TERM, and with KILL (128 + 9, through sudo or a shell). */
const TIMEOUT_STATUSES = new Set([124, 137]);
const MAX_TIMER_MS = 2_147_483_647;

/** The server refused to open a channel on a connection that is still alive. */
export class ChannelRefused extends Error {}

/** sudo did not start the script: a wrong password, or it waited for something else. Nothing ran. */
export class BecomeRefused extends Error {
  constructor(
    message: string,
    /** What sudo said (its stderr before the shell started, prompts left out). */
    readonly said: string,
  ) {
    super(message);
  }
}

/** The command's result, and whether the shell started at all (see the header). */
export interface ChannelResult extends ExecResult {
  started: boolean;
  /** The script was written to the channel (the host may have run it, start line or not). */
  scriptSent: boolean;
  /** stderr before the shell started (sudo's words), on one line. */
  said: string;
}

/** A `timeout`; `stoppedOnHost`: the host's own `timeout` ended the command and reported it. */
function timedOut(message: string, stoppedOnHost: boolean): TransportError {
  return new TransportError("timeout", message, { stoppedOnHost });
}

export interface ChannelRun {
  lease: Lease;
  who: string;
  command: RemoteCommand;
  /** Time left for the command, from now. */
  timeoutMs: number;
  /**
   * The limit the host enforces itself (command.ts), in ms from when the command is sent; the
   * client then waits for the host's verdict until this plus the kill grace plus a margin.
   */
  hostLimitMs?: number;
  /** For the error message: the timeout as the caller gave it. */
  timeoutLabelMs: number;
  maxOutputBytes: number;
  killGraceMs: number;
  signal?: AbortSignal;
  /** performance.now() when the request arrived, for `durationMs`. */
  started: number;
}

export function runOnChannel(run: ChannelRun): Promise<ChannelResult> {
  const { lease, who } = run;
  return new Promise<ChannelResult>((resolve, reject) => {
    const stdout = new TailBuffer(run.maxOutputBytes);
    const stderr = new TailBuffer(run.maxOutputBytes);
    let channel: ClientChannel | undefined;
    let exit: { code: number | null; signal: string | null } | undefined;
    let stopping: TransportError | undefined;
    let settled = false;
    let drainTimer: NodeJS.Timeout | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    const watch = new StartWatch();
    /** The script went to ssh2: from then on the host may run the command. */
    let scriptSent = false;

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
      reject(scriptSent ? e : beforeScript(e));
    };
    /** A `timeout` or `dropped` before the host had the script: nothing ran. */
    const beforeScript = (e: Error): Error => {
      if (!(e instanceof TransportError) || (e.kind !== "timeout" && e.kind !== "dropped")) return e;
      if (e.kind === "timeout" && run.command.password !== undefined) {
        const said = watch.said();
        return new BecomeRefused(
          `sudo did not start the command within ${timeoutLabel(run.timeoutLabelMs)}${said ? ` (it said: ${said})` : " (it asked for the password with no prompt Overhaul knows, or waited for something else)"}`,
          said,
        );
      }
      const why =
        e.kind === "timeout"
          ? `the command was not started within ${timeoutLabel(run.timeoutLabelMs)}`
          : lease.dead
            ? "the connection was lost before the command was sent"
            : "aborted before the command was sent";
      return new TransportError("unreachable", `${who}: ${why}; nothing ran`, { cause: e });
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
        started: watch.started,
        scriptSent,
        said: watch.said(),
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

    const label = timeoutLabel(run.timeoutLabelMs);
    const hostLimited = run.hostLimitMs !== undefined;
    const clientMs = hostLimited
      ? (run.hostLimitMs as number) + run.killGraceMs + HOST_LIMIT_MARGIN_MS
      : run.timeoutMs;
    const timer = setTimeout(
      () =>
        stop(
          timedOut(
            hostLimited
              ? `${who}: the command timed out after ${label} and the host did not report it stopped ` +
                  `within ${timeoutLabel(clientMs)}; it may still be running; its effect is unknown`
              : `${who}: the command timed out after ${label}; TERM and KILL were sent, but it may still ` +
                  "be running (the server may ignore them); its effect is unknown",
            false,
          ),
        ),
      Math.min(Math.max(clientMs, 0), MAX_TIMER_MS),
    );
    /** When the script went out: the host cannot have started the command before. */
    let sentAt = Number.POSITIVE_INFINITY;
    /** The host's `timeout` ended the command: its status, at or after the limit. */
    const stoppedByHost = (code: number | null, signal: string | null): boolean => {
      if (!hostLimited) return false;
      const limitReached = performance.now() - sentAt >= (run.hostLimitMs as number);
      const name = signal?.replace(/^SIG/, "");
      const status = code !== null ? TIMEOUT_STATUSES.has(code) : name === "KILL" || name === "TERM";
      return limitReached && status;
    };
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
        const sendScript = () => {
          if (scriptSent) return;
          scriptSent = true;
          sentAt = performance.now();
          ch.write(run.command.script);
        };
        ch.on("data", (chunk: Buffer) => stdout.push(chunk));
        ch.stderr.on("data", (chunk: Buffer) => {
          const { events, rest } = watch.feed(chunk);
          for (const event of events) {
            if (settled) return;
            if (event === "started") sendScript();
            else if (event === "prompt" && run.command.password !== undefined)
              ch.write(`${run.command.password}\n`);
            else {
              // Asked again: a wrong password (sudo would wait for another one until the timeout).
              ch.close();
              const said = watch.said();
              return fail(
                new BecomeRefused(
                  `sudo did not accept the password${said ? ` (it said: ${said})` : ""}`,
                  said,
                ),
              );
            }
          }
          if (rest) stderr.push(rest);
        });
        ch.on("error", () => undefined);
        ch.on("exit", (code: number | null, signal?: string) => {
          if (exit) return;
          exit = { code: typeof code === "number" ? code : null, signal: signal ?? null };
          // OpenSSH's sshd closes the session only once our side of stdin is closed too.
          ch.end();
          if (stoppedByHost(exit.code, exit.signal)) {
            const how = exit.code !== null ? `exit status ${exit.code}` : `killed by ${exit.signal}`;
            ch.close();
            return fail(
              timedOut(
                `${who}: the command timed out after ${label} and the host stopped it (${how}); ` +
                  "nothing of it still runs, but its effect is unknown",
                true,
              ),
            );
          }
          if (stopping) return; // stop() decides when to reject
          // Not started: wait for the close (all of sudo's words, and a late start, if any).
          if (watch.started) drainTimer = setTimeout(succeed, DRAIN_MS);
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
        // With a password, the script waits until the shell started (after sudo took it).
        if (run.command.password === undefined) sendScript();
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

/** "2s", "1.5s", "800 ms": the timeout as an operator reads it. */
function timeoutLabel(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${Number((ms / 1000).toFixed(1))}s`;
}

function trySignal(ch: ClientChannel, name: string): void {
  try {
    ch.signal(name);
  } catch {
    // The channel may be closing already.
  }
}
