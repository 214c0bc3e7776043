/**
 * Reports of runs, real or simulated: build one `Report` value from stored data, then render it
 * as terminal text, canonical JSON, Markdown or a self-contained HTML page.
 *
 * Invariant: everything here is pure (no I/O, no clock); the CLI reads the store and writes the
 * output.
 */
import { canonicalJson } from "./canonical-json.js";
import type { Report } from "./model.js";
import { renderHtml } from "./render-html.js";
import { renderMarkdown } from "./render-markdown.js";
import { type Paint, renderText } from "./render-text.js";

export { buildReport } from "./build.js";
export { downtimeSamples } from "./downtime.js";
export type { ReportInput } from "./input.js";
export type { Report } from "./model.js";
export type { Paint, Style } from "./render-text.js";
export { canonicalJson, renderHtml, renderMarkdown, renderText };

export const REPORT_FORMATS = ["text", "json", "md", "html"] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

export function renderReport(report: Report, format: ReportFormat, paint?: Paint): string {
  switch (format) {
    case "json":
      return canonicalJson(report);
    case "md":
      return renderMarkdown(report);
    case "html":
      return renderHtml(report);
    default:
      return renderText(report, paint);
  }
}
