/**
 * The `local` transport: runs a host's commands on this machine (`ansible_connection=local`),
 * so real runs work before SSH exists.
 *
 * Invariants:
 * - Every command runs as `<shell> -c <command>` in its own process group, so a timeout, an
 *   abort or `close()` stops the shell AND everything it started (SIGTERM, then SIGKILL after a
 *   short grace). A rejection for timeout/abort comes only after the group is gone (or after the
 *   KILL, if it cannot be confirmed); a `timeout` whose group is confirmed gone says so
 *   (`stoppedOnHost`), as the SSH transport's host-side timeout does.
 * - Outcomes follow the port: any exit status resolves; a timeout rejects `timeout`, an abort
 *   while running rejects `dropped` (effect unknown); when nothing could run (shell or working
 *   directory missing, aborted before start, transport closed) it rejects `unreachable`; sudo
 *   refusing to run rejects `auth`.
 * - Output is captured per stream up to `maxOutputBytes`, keeping the tail.
 * - Environment values are never logged or put in messages; commands are not echoed either.
 * - Durations use `performance.now()` (monotonic), never the wall clock.
 * - `upload` writes the file on this machine (upload.ts), as the SSH transport does over SFTP.
 * - A command with a `tag` is marked (marker.ts) while it runs, so `running` can tell a coordinator
 *   started after a crash whether its predecessor's command still runs.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { TransportError, type TransportFailure } from "../../core/errors.js";
import type { Host } from "../../core/model/fleet.js";
import { TailBuffer } from "../../core/output/tail-buffer.js";
import type {
  ExecRequest,
  ExecResult,
  RunningRequest,
  Transport,
  UploadRequest,
  UploadResult,
} from "../../ports/transport.js";
import { addedNames, commandEnvironment } from "./environment.js";
import { markAttempt, stillRunning } from "./marker.js";
import { groupAlive, stopGroup } from "./process-group.js";
import { uploadLocal } from "./upload.js";

export interface LocalTransportOptions {
  /** Shell that runs the command with `-c`; default `/bin/sh`. */
  shell?: string;
  /** Per-stream capture limit when the request sets none; default 64 KiB. */
  maxOutputBytes?: number;
  /** Time between SIGTERM and SIGKILL when stopping a command; default 2 s. */
  killGraceMs?: number;
  /** The sudo program used for `become`; default `sudo` (from PATH). */
  sudo?: string;
  /** Whether this process is root (then `become` runs directly); default: asks the OS. */
  isRoot?: boolean;
}

export const DEFAULT_MAX_OUTPUT_BYTES = 64 * 1024;
/** After the shell exits, how long to wait for its pipes to close (a background child may hold them). */
const DRAIN_MS = 250;
/** Largest delay a Node timer accepts. */
const MAX_TIMER_MS = 2_147_483_647;
const SUDO_REFUSAL =
  /^sudo: .*(password is required|terminal is required|not allowed|not in the sudoers|may not run)/m;

interface Running {
  stop(kind: Exclude<TransportFailure, "auth" | "hostkey" | "unreachable">, message: string): void;
  settled: Promise<unknown>;
}

export function createLocalTransport(options: LocalTransportOptions = {}): Transport {
  const config = {
    shell: options.shell ?? "/bin/sh",
    maxOutputBytes: options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES,
    killGraceMs: options.killGraceMs ?? 2_000,
    sudo: options.sudo ?? "sudo",
    isRoot: options.isRoot ?? process.getuid?.() === 0,
  };
  const running = new Set<Running>();
  let closed = false;

  return {
    exec(host: Host, req: ExecRequest): Promise<ExecResult> {
      if (closed) return Promise.reject(new TransportError("unreachable", "the local transport is closed"));
      return runCommand(host, req, config, running);
    },
    upload(host: Host, req: UploadRequest): Promise<UploadResult> {
      if (closed) return Promise.reject(new TransportError("unreachable", "the local transport is closed"));
      return uploadLocal(host, req);
    },
    async running(_host: Host, req: RunningRequest): Promise<boolean | undefined> {
      return stillRunning(req.tag);
    },
    async close(): Promise<void> {
      closed = true;
      const all = [...running];
      for (const r of all)
        r.stop("dropped", "the transport was closed while the command ran; its effect is unknown");
      await Promise.allSettled(all.map((r) => r.settled));
    },
  };
}

type Config = Required<LocalTransportOptions>;

function runCommand(
  host: Host,
  req: ExecRequest,
  config: Config,
  running: Set<Running>,
): Promise<ExecResult> {
  const started = performance.now();
  const fail = (kind: TransportFailure, message: string, cause?: unknown) =>
    Promise.reject(
      new TransportError(kind, `${host.name}: ${message}`, cause === undefined ? {} : { cause }),
    );
  if (req.signal?.aborted) return fail("unreachable", "aborted before the command started; nothing ran");
  if (Number.isNaN(req.timeoutMs)) return fail("unreachable", "no valid timeout was given; nothing ran");

  const env = commandEnvironment(host, req.env);
  const viaSudo = req.become === true && !config.isRoot;
  const file = viaSudo ? config.sudo : config.shell;
  const args = viaSudo
    ? ["-n", ...preserveFlag(addedNames(env)), "--", config.shell, "-c", req.command]
    : ["-c", req.command];
  const cwd = workdirOf(host);
  const where = `${file}${cwd ? ` in ${cwd}` : ""}`;

  let child: ChildProcess;
  try {
    child = spawn(file, args, { cwd, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  } catch (cause) {
    return fail("unreachable", `could not start ${where}: ${errorText(cause)}`, cause);
  }

  const unmark = markAttempt(req.tag, child.pid);
  const limit = req.maxOutputBytes ?? config.maxOutputBytes;
  const stdout = new TailBuffer(limit);
  const stderr = new TailBuffer(limit);
  child.stdout?.on("data", (chunk: Buffer) => stdout.push(chunk));
  child.stderr?.on("data", (chunk: Buffer) => stderr.push(chunk));
  const pipesClosed = new Promise<void>((done) => child.once("close", () => done()));

  let exited = false;
  let stopping: { error: TransportError; done: Promise<void> } | undefined;
  const entry: Running = {
    stop(kind, message) {
      if (exited || stopping || child.pid === undefined) return;
      stopping = {
        error: new TransportError(kind, `${host.name}: ${message}`),
        done: stopGroup(child.pid, config.killGraceMs),
      };
    },
    settled: Promise.resolve(),
  };
  const timeoutMs = Math.min(Math.max(req.timeoutMs, 0), MAX_TIMER_MS);
  const timer = setTimeout(
    () => entry.stop("timeout", `the command timed out after ${req.timeoutMs} ms and was stopped`),
    timeoutMs,
  );
  const onAbort = () => entry.stop("dropped", "the command was aborted while it ran; its effect is unknown");
  req.signal?.addEventListener("abort", onAbort, { once: true });

  const outcome = new Promise<ExecResult>((resolve, reject) => {
    child.once("error", (err) => {
      // Without a pid the process never started (missing shell or directory): nothing ran.
      if (child.pid === undefined) {
        reject(
          new TransportError("unreachable", `${host.name}: could not start ${where}: ${err.message}`, {
            cause: err,
          }),
        );
      }
    });
    child.once("exit", (code, signal) => {
      exited = true;
      clearTimeout(timer);
      void Promise.race([pipesClosed, sleep(DRAIN_MS)]).then(async () => {
        child.stdout?.destroy();
        child.stderr?.destroy();
        if (stopping) await stopping.done;
        // Before the caller hears of it: the command no longer runs under its tag (unless it was
        // stopped and its group may live on: then `running` keeps asking the group).
        if (!stopping || child.pid === undefined || !groupAlive(child.pid)) unmark();
        if (stopping) {
          const e = stopping.error;
          // A timeout whose whole group is gone is known stopped (sudo's root group may be out of reach).
          const gone = e.kind === "timeout" && child.pid !== undefined && !groupAlive(child.pid);
          reject(gone ? new TransportError(e.kind, e.message, { stoppedOnHost: true }) : e);
          return;
        }
        const result: ExecResult = {
          exitCode: code,
          signal,
          stdout: stdout.text(),
          stderr: stderr.text(),
          durationMs: performance.now() - started,
          truncated: stdout.truncated || stderr.truncated,
        };
        if (viaSudo && code === 1 && SUDO_REFUSAL.test(result.stderr.trimStart())) {
          reject(new TransportError("auth", `${host.name}: sudo refused to run the command (become)`));
          return;
        }
        resolve(result);
      });
    });
  });

  entry.settled = outcome.then(
    () => undefined,
    () => undefined,
  );
  running.add(entry);
  void entry.settled.finally(() => {
    clearTimeout(timer);
    req.signal?.removeEventListener("abort", onAbort);
    running.delete(entry);
  });
  return outcome;
}

/** sudo resets the environment; ask it to keep what we add (granted by `SETENV`, implied by `ALL`). */
function preserveFlag(names: readonly string[]): string[] {
  return names.length > 0 ? [`--preserve-env=${names.join(",")}`] : [];
}

/** The working directory from the host variable `overhaul_workdir`, when it is set. */
function workdirOf(host: Host): string | undefined {
  const dir = host.vars.overhaul_workdir;
  return typeof dir === "string" && dir !== "" ? dir : undefined;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
