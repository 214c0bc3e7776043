/**
 * Small text formatting shared by the renderers.
 *
 * Invariants: pure; `null` (a figure the data cannot give) always prints as "-", never as 0.
 */

import { visible } from "../output/visible.js";
import { formatDuration } from "../plan/duration.js";

export const dash = (v: string | number | null | undefined): string =>
  v === null || v === undefined ? "-" : String(v);

/** A failure's step: the step, `after STEP` (stopped between steps), `not started`, or "-". */
export function failureStep(f: { state: string; step: string | null; after: string | null }): string {
  if (f.step !== null) return f.step;
  if (f.after !== null) return `after ${f.after}`;
  return f.state === "aborted" ? "not started" : "-";
}

/** `850ms`, `1.2s`, `59.9s`, then whole seconds: `1m30s`, `2h5m`. */
export function duration(ms: number | null): string {
  if (ms === null) return "-";
  if (ms >= 1000 && ms < 59_950) return `${String(Math.round(ms / 100) / 10)}s`;
  return formatDuration(ms);
}

/** A position on the timeline: `0`, `+1.5s`, `+2h`; before the origin `-1m`. */
export const offset = (ms: number | null): string =>
  ms === null ? "-" : ms === 0 ? "0" : ms < 0 ? `-${duration(-ms)}` : `+${duration(ms)}`;

/** `2026-11-21T16:30:00.000Z` -> `2026-11-21 16:30:00Z` (shorter in tables). */
export const when = (isoTime: string | null): string =>
  isoTime === null ? "-" : isoTime.replace("T", " ").replace(/\.\d{3}Z$/, "Z");

/**
 * `2026-11-21T16:30:00.412Z` -> `2026-11-21 16:30:00.412Z`: the run's first start and last finish,
 * shown next to the makespan, keep their milliseconds, so the makespan (rounded to the second)
 * agrees with them; cut to the second they could look one second apart from it.
 */
export const instant = (isoTime: string | null): string =>
  isoTime === null ? "-" : isoTime.replace("T", " ");

/** A reason on one line, at most `max` characters, its control characters shown (output/visible.ts). */
export function oneLine(s: string | null, max = 200): string {
  if (s === null) return "";
  const flat = visible(s.replace(/\s+/g, " ").trim());
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** Left-aligned columns separated by two spaces; `width` measures text without ANSI colour codes. */
export function columns(rows: readonly (readonly string[])[]): string {
  const plain = (s: string) => s.replace(/\u001b\[[0-9;]*m/g, "");
  const widths: number[] = [];
  for (const r of rows) {
    r.forEach((c, i) => {
      widths[i] = Math.max(widths[i] ?? 0, plain(c).length);
    });
  }
  return rows
    .map((r) =>
      r
        .map((c, i) => (i === r.length - 1 ? c : c + " ".repeat((widths[i] ?? 0) - plain(c).length)))
        .join("  "),
    )
    .join("\n");
}
