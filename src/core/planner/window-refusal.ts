/**
 * The refusal of a region whose estimate does not fit its window, in words: why (what held it
 * back, for how long, or what binds on its own) and what would make it fit, from facts the planner
 * measured (planner.ts `fitWindows`).
 *
 * Invariants:
 * - Pure text from the facts; nothing here plans.
 * - A wait is named with its cause: for a wave barrier the earlier wave, the host of it that ended
 *   last, its region and, when that region's window opens later, by how much and when; for caps
 *   the cap that was full. Waits come first: they are why a region that fits on its own does not.
 * - Hold-overs are spoken of only for a region that drains; "N hold-over(s) would" only when N is
 *   more than it has and nothing held it back (the number is sized for the region on its own).
 * - `--order balanced` is suggested only when the planner played it and it fits this region; other
 *   windows only when the region waited from its opening for one earlier wave and nothing else
 *   (waits between its own waves come from the waves and the order, not from the windows).
 */
import type { Hold } from "./held-back.js";
import { formatMs, type Refusal } from "./refusal.js";

/** The refusal's own facts (region, window, estimate, hold-overs) are the ones it reports. */
type TooShort = Extract<Refusal, { kind: "window-too-short" }>;

export interface WindowFacts
  extends Pick<TooShort, "region" | "windowMs" | "estimateMs" | "fromOpening" | "holdovers" | "needed"> {
  /** The region on its own (no other region, no opening): does it fit, else what binds. */
  alone: { fits: true } | { fits: false; ms: number; binding: string | undefined };
  /** Its waits from `from` (held-back.ts). */
  holds: readonly Hold[];
  /** A region's window opening: its offset after this region's, and the epoch ms (none chosen: undefined). */
  opening: (region: string) => { afterMs: number; at: number } | undefined;
  globalCap: number;
  staggered: boolean;
  /** The plan played with `--order balanced` fits this region's window (false: not played, or it does not). */
  balancedFits: boolean;
}

type WindowRefusal = Extract<Refusal, { kind: "window-too-short" }>;

export function windowRefusal(f: WindowFacts): WindowRefusal {
  const waves = f.holds.filter((h) => h.by === "wave");
  const caps = f.holds.filter((h) => h.by === "caps");
  const waveMs = sum(waves);
  const capsMs = sum(caps);
  const causes: string[] = [];
  const longest = [...waves].sort((a, b) => b.toMs - b.fromMs - (a.toMs - a.fromMs))[0];
  if (longest !== undefined) causes.push(waveCause(f, longest, waveMs, waves.length));
  const full = [...caps].sort((a, b) => b.toMs - b.fromMs - (a.toMs - a.fromMs))[0];
  if (full !== undefined)
    causes.push(
      `hosts of other regions hold it back ${formatMs(capsMs)}${waves.length > 0 ? " more" : ""} under ${capOf(f, full.running)}`,
    );
  if (!f.alone.fits) causes.push(aloneCause(f, f.alone));
  else if (causes.length === 0)
    causes.push(`other regions hold it back under the caps they share with it (global cap ${f.globalCap})`);
  const why = `${causes.join("; ")}${f.alone.fits ? "; alone, it would fit" : ""}`;
  return {
    kind: "window-too-short",
    region: f.region,
    windowMs: f.windowMs,
    estimateMs: f.estimateMs,
    fromOpening: f.fromOpening,
    holdovers: f.holdovers,
    needed: f.needed,
    why,
    fix: fixOf(f, longest, full),
  };
}

function sum(holds: readonly Hold[]): number {
  return holds.reduce((s, h) => s + h.toMs - h.fromMs, 0);
}

function waveName(wave: number): string {
  return wave === 0 ? "the canary" : `wave ${wave}`;
}

function iso(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 16)}Z`;
}

/** `it waits 10h01m for the canary (wave 0: l-w1 of region l, whose window opens ...) to finish: ...`. */
function waveCause(f: WindowFacts, longest: Extract<Hold, { by: "wave" }>, total: number, n: number): string {
  const h = longest.holder;
  const opens = f.opening(h.region);
  const later =
    opens !== undefined && opens.afterMs > 0
      ? `, whose window opens ${formatMs(opens.afterMs)} after this region's, at ${iso(opens.at)}`
      : "";
  const who = `${h.host} of region ${h.region}${later}`;
  const wave = h.wave === 0 ? `the canary (wave 0: ${who})` : `wave ${h.wave} (last host: ${who})`;
  const what =
    n === 1
      ? `${wave} to finish`
      : `earlier waves to finish, the longest ${formatMs(longest.toMs - longest.fromMs)} for ${wave}`;
  return `it waits ${formatMs(total)} for ${what}: a wave starts only when the earlier ones are done, in every region`;
}

function capOf(f: WindowFacts, running: number): string {
  if (running >= f.globalCap) return `the global cap of ${f.globalCap}`;
  return f.staggered ? "the stagger or the caps they share" : "the caps they share";
}

function aloneCause(f: WindowFacts, alone: { ms: number; binding: string | undefined }): string {
  const binding = alone.binding === undefined ? "" : ` (${alone.binding})`;
  if (f.holdovers === null) return `on its own it takes an estimated ${formatMs(alone.ms)}${binding}`;
  if (f.needed === null)
    return `even with unlimited hold-overs it takes at least ${formatMs(alone.ms)}${binding}`;
  return "not enough hold-overs";
}

function fixOf(
  f: WindowFacts,
  wave: Extract<Hold, { by: "wave" }> | undefined,
  caps: Extract<Hold, { by: "caps" }> | undefined,
): string {
  if (f.balancedFits)
    return `with --order balanced it fits${wave !== undefined ? " (its canary comes from the region whose window opens first)" : ""}`;
  const more = f.holdovers !== null && f.needed !== null && f.needed > f.holdovers;
  // Sized for the region on its own: with waits, that many would not be enough by themselves.
  const also = more ? `; on its own it also needs ${f.needed} hold-over(s)` : "";
  // Waiting from its window's opening for an earlier wave, and nothing else: the windows are the fix.
  if (wave?.first && f.fromOpening && f.holds.length === 1)
    return `a longer window, or windows that let ${waveName(wave.holder.wave)} finish before this one opens${also}`;
  if (wave !== undefined)
    return `a longer window, or waves and an order that do not make it wait for other regions${also}`;
  if (caps !== undefined)
    return `${caps.running >= f.globalCap ? "a higher global cap" : "higher caps"}, or a longer window${also}`;
  if (more) return `${f.needed} hold-over(s) would`;
  if (f.holdovers !== null && f.needed === null)
    return "no number of hold-overs makes it fit (a longer window, or higher caps)";
  return f.alone.fits ? "a higher global cap, or a longer window" : "a longer window, or higher caps";
}
