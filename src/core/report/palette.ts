/**
 * Colours of the HTML report: one per stage (step), cycling after twelve, and the fixed colours
 * of failures, reverts and waves.
 *
 * Invariants: no stage colour is red or purple-magenta, so failure marks (red) and revert
 * phases (hatched purple) are never confused with a stage; stage `i` always gets the same colour,
 * so two reports of the same plan look alike.
 */

const STAGE_COLORS = [
  "#4e79a7",
  "#f28e2b",
  "#59a14f",
  "#edc948",
  "#76b7b2",
  "#9c755f",
  "#a0cbe8",
  "#ffbe7d",
  "#8cd17d",
  "#86bcb6",
  "#bab0ac",
  "#d4a6c8",
];

export const FAIL = "#d62728";
export const DOUBT = "#c51b8a";
export const REVERT = "#6a3d9a";
export const UNKNOWN_STAGE = "#999999";

export function stageColor(i: number): string {
  return i < 0 ? UNKNOWN_STAGE : (STAGE_COLORS[i % STAGE_COLORS.length] as string);
}

/** CSS rules for the stage classes `.s0`, `.s1`, ... (SVG fill) used by bars and legend swatches. */
export function stageCss(count: number): string {
  const rules = [`.sx{fill:${UNKNOWN_STAGE}}`];
  for (let i = 0; i < count; i++) rules.push(`.s${i}{fill:${stageColor(i)}}`);
  return rules.join("");
}
