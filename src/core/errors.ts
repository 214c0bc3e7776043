/**
 * Typed errors shared by every layer.
 *
 * Invariants:
 * - Every error that reaches the CLI maps to one documented exit code (see `exitCodeOf` in cli/).
 * - Input problems carry the exact place (file, line, column, path) and what would be valid,
 *   so the operator can fix them without reading a stack trace.
 * - Errors keep their `cause`; nothing here exits the process.
 */

export interface Problem {
  /** File the problem is in, as the user named it. */
  file?: string;
  /** 1-based line and column, when the source format gives them. */
  line?: number;
  column?: number;
  /** Path inside the document, e.g. `steps[2].retry.attempts`. */
  path?: string;
  /** What is wrong. */
  message: string;
  /** What would be valid, when it can be said briefly. */
  expected?: string;
}

export class OverhaulError extends Error {
  override readonly name: string = "OverhaulError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Bad input (plan, inventory, flags). Exit code 2; nothing was done. */
export class InputError extends OverhaulError {
  override readonly name = "InputError";
  readonly problems: Problem[];
  constructor(problems: Problem[] | Problem, options?: { cause?: unknown }) {
    const list = Array.isArray(problems) ? problems : [problems];
    super(list.map(formatProblem).join("\n"), options);
    this.problems = list;
  }
}

/** A safety rule refused the action. Exit code 4; nothing was done. */
export class SafetyRefusal extends OverhaulError {
  override readonly name = "SafetyRefusal";
  constructor(
    readonly rule: string,
    message: string,
  ) {
    super(message);
  }
}

/** A host that another unfinished run still holds (see `hostsInOtherRuns`). */
export interface HostInRun {
  host: string;
  runId: string;
  runState: string;
  hostState: string;
}

/**
 * Host states `overhaul skip` takes a host out of its run from: the transition table's predecessors
 * of `skipped` (core/flow/states.ts imports this module, so they are written here; a test keeps
 * them equal).
 */
export const SKIPPABLE: readonly string[] = ["pending", "failed", "in_doubt"];

/**
 * The refusal to start a run on hosts that unfinished runs still hold: two runs on one host would
 * each drain, reboot or change it without knowing of the other, and neither run's caps would count
 * the other's hosts.
 */
export function hostsInOtherRuns(busy: readonly HostInRun[], what = "refusing to start"): SafetyRefusal {
  const shown = busy
    .slice(0, 5)
    .map((b) => `${b.host} (run ${b.runId}, ${b.runState}; host ${b.hostState})`)
    .join(", ");
  const more = busy.length > 5 ? ` and ${busy.length - 5} more` : "";
  // `skip` takes only a host that is not at a step (pending, failed, in doubt); one that is there
  // (running, reverting, or paused at a manual gate) is held until it finishes or its run is aborted.
  const skippable = busy.some((b) => SKIPPABLE.includes(b.hostState));
  const held = busy.some((b) => !SKIPPABLE.includes(b.hostState));
  const ways = [
    "finish or abort that run",
    ...(skippable
      ? ["take a pending, failed or in-doubt host out of it (`overhaul skip HOST --run RUN`)"]
      : []),
    ...(held ? ["wait for a host at a step there to finish it"] : []),
  ];
  return new SafetyRefusal(
    "hosts-in-another-run",
    `${what}: ${busy.length} host(s) belong to a run that is not finished: ${shown}${more}. ` +
      `Two runs on one host would each act on it without knowing of the other: ${ways.join(", or ")}`,
  );
}

/** An operation named something that does not exist (run, host). Exit code 2. */
export class NotFoundError extends OverhaulError {
  override readonly name = "NotFoundError";
}

/**
 * A name that must be unique is taken (a token's name): nothing was written. Stores raise it from
 * their own uniqueness constraint, so two concurrent creates of one name get it too, not only a
 * create that an earlier check could have seen coming.
 */
export class NameTakenError extends OverhaulError {
  override readonly name = "NameTakenError";
  constructor(
    readonly what: string,
    readonly taken: string,
  ) {
    super(`a ${what} named "${taken}" already exists`);
  }
}

/** A state-machine transition that the table does not allow. A bug or a race; never silently ignored. */
export class IllegalTransitionError extends OverhaulError {
  override readonly name = "IllegalTransitionError";
  constructor(
    readonly machine: string,
    readonly from: string,
    readonly to: string,
  ) {
    super(`illegal ${machine} transition ${from} -> ${to}`);
  }
}

/** The coordinator no longer holds the lease (fencing): it must stop writing at once. */
export class LeaseLostError extends OverhaulError {
  override readonly name = "LeaseLostError";
}

/** Format one problem as a single line: `file:line:col: path: message (expected: ...)`. */
export function formatProblem(p: Problem): string {
  let where = "";
  if (p.file) {
    where = p.file;
    if (p.line !== undefined) {
      where += `:${p.line}`;
      if (p.column !== undefined) where += `:${p.column}`;
    }
  }
  const parts: string[] = [];
  if (where) parts.push(where);
  if (p.path) parts.push(p.path);
  const head = parts.length > 0 ? `${parts.join(": ")}: ` : "";
  const tail = p.expected ? ` (expected ${p.expected})` : "";
  return `${head}${p.message}${tail}`;
}

export type TransportFailure =
  /** Could not connect at all: nothing ran. Safe to retry. */
  | "unreachable"
  /** Refused credentials or host key: nothing ran; retrying will not help. */
  | "auth"
  | "hostkey"
  /**
   * The command ran past its timeout: its effect is unknown. `stoppedOnHost` says whether it is
   * known to have been stopped.
   */
  | "timeout"
  /** The connection dropped while the command ran: its effect is unknown (in doubt). */
  | "dropped";

/** A transport could not run a command to completion. `effectUnknown` drives in-doubt handling. */
export class TransportError extends OverhaulError {
  override readonly name = "TransportError";
  /**
   * A `timeout` after which the host itself stopped the command and said so (the SSH transport's
   * host-side `timeout`, the local transport's process group found gone): its effect is still
   * unknown (possibly partial), but nothing of it still runs, so checking, re-running or
   * reverting it cannot race it. False: it may still be running.
   */
  readonly stoppedOnHost: boolean;
  constructor(
    readonly kind: TransportFailure,
    message: string,
    options?: { cause?: unknown; stoppedOnHost?: boolean },
  ) {
    super(message, options && "cause" in options ? { cause: options.cause } : undefined);
    this.stoppedOnHost = options?.stoppedOnHost === true;
  }
  get retryable(): boolean {
    return this.kind !== "auth" && this.kind !== "hostkey";
  }
  get effectUnknown(): boolean {
    return this.kind === "timeout" || this.kind === "dropped";
  }
}
