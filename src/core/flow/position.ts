/**
 * Where a host stands in its flow, for what `status`, the report and the abort record say about it:
 * at a step (an attempt of it has begun: it is running, failed and waits for a retry, or is being
 * reverted), between steps (the last one done, the next one not begun: a pause or an abort came
 * in between), or not started at all.
 *
 * Invariant: a host is never reported at a step none of whose attempts began. A forward step's
 * attempts counter is written with its first intent (host-flow.ts), so `attempts === 0` on the
 * forward phase means the step at `stepIndex` has not begun.
 */
import type { HostState } from "./states.js";

export interface HostPosition {
  /** The step the host is at (one of its attempts began), or null. */
  step: string | null;
  /** With no step: the last step it finished, or null when it finished none (not started). */
  after: string | null;
}

export interface PositionInput {
  state: HostState;
  phase: "forward" | "revert";
  stepIndex: number;
  attempts: number;
  startedAt: number | null;
}

/** For running and aborted hosts (the ones a pause or an abort can catch between steps). */
export function positionOf(h: PositionInput, steps: readonly string[]): HostPosition {
  const at = steps[h.stepIndex] ?? null;
  if (h.phase === "revert" || h.attempts > 0) return { step: at, after: null };
  if (h.startedAt === null || h.stepIndex === 0) return { step: null, after: null };
  return { step: null, after: steps[h.stepIndex - 1] ?? null };
}

/** Hosts whose step `positionOf` places; the others keep the step of their record. */
export function placedByPosition(s: HostState): boolean {
  return s === "running" || s === "aborted";
}

/** `step nap`, `after nap`, or `not started`. */
export function describePosition(p: HostPosition): string {
  if (p.step !== null) return `step ${p.step}`;
  if (p.after !== null) return `after ${p.after}`;
  return "not started";
}
