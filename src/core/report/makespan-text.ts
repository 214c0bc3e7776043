/**
 * How a makespan prints in every renderer: the makespan of a finished group, or, while hosts are
 * unfinished, the time so far labelled as such, so no number reads as final before it is.
 *
 * Invariants: pure; a makespan the data cannot give prints "-" (as in format.ts), with the time so
 * far beside it when there is one.
 */
import { duration } from "./format.js";
import type { Figures } from "./model.js";

/** A table cell: `4.3s`; while hosts are unfinished `- (4.3s so far)`; else `-`. */
export function makespanCell(f: Figures): string {
  if (f.makespanMs === null && f.makespanSoFarMs !== null) return `- (${duration(f.makespanSoFarMs)} so far)`;
  return duration(f.makespanMs);
}

/**
 * Why a group has no makespan yet, in words; null once every host is finished. `start` names the
 * first host start (a renderer may add its time).
 */
export function unfinishedNote(f: Figures, start = "the first host start"): string | null {
  if (f.unfinished === 0) return null;
  if (f.makespanSoFarMs === null) return "unfinished: no host has started";
  return `unfinished: ${duration(f.makespanSoFarMs)} so far, from ${start} to the last recorded event`;
}
