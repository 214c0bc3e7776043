/**
 * `overhaul report [RUN] [--format text|json|md|html] [-o FILE]`: the report of a stored run, read
 * from the database or from `overhaul serve`.
 *
 * Invariants:
 * - Read-only: it reads the run, its host flows, attempts and events (and the plan revision, for
 *   the stage order) and writes nothing to the store.
 * - The report itself is built and rendered by the pure `core/report`; this file only reads and
 *   writes. The same run gives the same bytes (`--format json` is canonical JSON).
 * - With `-o FILE` and no `--format`, the format follows the file's extension (.html, .json,
 *   .md); otherwise it is text. An unknown run is exit 2, like every command that names one.
 * - `-o FILE` is checked before the store is read, and a regular file is replaced as a whole
 *   (written aside, then renamed over it): a failed write leaves the old file as it was.
 * - With `--server` (or OVERHAUL_SERVER) the report is the server's, rendered there in the format
 *   asked for: the same bytes as `overhaul report` on the server's database (text without colour).
 */
import { lstat, writeFile } from "node:fs/promises";
import { basename } from "node:path";
import { InputError } from "../../core/errors.js";
import { REPORT_FORMATS, type ReportFormat, renderReport } from "../../core/report/index.js";
import { reportOfRun } from "../../engine/report-of-run.js";
import { requireRun } from "../../engine/runs.js";
import { openStore } from "../compose.js";
import { EXIT } from "../exit-codes.js";
import { makeOut, paint } from "../output.js";
import { callText, type Remote, remoteRunId } from "../remote.js";
import { fileTarget, prepareReportDir, writeFileSet } from "../report-files.js";

export interface ReportOptions {
  db?: string;
  noColor?: boolean;
  format?: string;
  output?: string;
  json?: boolean;
}

const EXTENSIONS: Record<string, ReportFormat> = {
  ".html": "html",
  ".htm": "html",
  ".json": "json",
  ".md": "md",
  ".markdown": "md",
};

export function formatOf(opts: ReportOptions): ReportFormat {
  if (opts.json) return "json";
  if (opts.format !== undefined) {
    if ((REPORT_FORMATS as readonly string[]).includes(opts.format)) return opts.format as ReportFormat;
    throw new InputError({
      path: "--format",
      message: `unknown report format "${opts.format}"`,
      expected: REPORT_FORMATS.join(", "),
    });
  }
  const ext = opts.output?.toLowerCase().match(/\.[a-z]+$/)?.[0];
  return (ext && EXTENSIONS[ext]) || "text";
}

/**
 * Where `-o FILE` goes, checked before the store is read: a regular file (or a new name in an
 * existing directory) is replaced as a whole, never left half-written; a directory is refused;
 * anything else (`/dev/stdout`, a named pipe, a symlink) is written to as it is.
 */
async function prepareOutput(file: string): Promise<{ inPlace: boolean }> {
  const s = await lstat(file).catch(() => undefined);
  if (s?.isDirectory())
    throw new InputError({
      file,
      path: "-o",
      message: "is a directory",
      expected: "a file name (the format follows its extension)",
    });
  if (s !== undefined && !s.isFile()) return { inPlace: true };
  await prepareReportDir(fileTarget("-o", file).target, [basename(file)], { create: false });
  return { inPlace: false };
}

/** With `remote`, the report is the server's (GET /api/runs/:id/report), in the same format. */
export async function reportCommand(
  runId: string | undefined,
  opts: ReportOptions,
  remote?: Remote,
): Promise<number> {
  const format = formatOf(opts);
  const out = makeOut({ noColor: opts.noColor || opts.output !== undefined });
  const dest = opts.output !== undefined ? await prepareOutput(opts.output) : undefined;
  let text: string;
  if (remote !== undefined) {
    const id = await remoteRunId(remote, runId);
    text = await callText(remote, `/api/runs/${encodeURIComponent(id)}/report?format=${format}`);
  } else {
    const store = await openStore(opts.db, { existing: true });
    try {
      const run = await requireRun(store, runId);
      text = renderReport(await reportOfRun(store, run), format, (style, s) => paint(out, style, s));
    } finally {
      await store.close();
    }
  }
  if (opts.output === undefined || dest === undefined) {
    out.write(text);
    return EXIT.ok;
  }
  if (dest.inPlace) {
    try {
      await writeFile(opts.output, text);
    } catch (e) {
      throw new InputError(
        { file: opts.output, message: `cannot write the report: ${(e as Error).message}` },
        { cause: e },
      );
    }
  } else {
    const { target, name } = fileTarget("-o", opts.output);
    await writeFileSet(target, [[name, text]]);
  }
  out.err(`report (${format}) written to ${opts.output}\n`);
  return EXIT.ok;
}
