/**
 * Terminal output helpers: colour only on a TTY and never when NO_COLOR is set (no-color.org).
 * Everything written to a terminal goes through `terminalSafe` (core/output/visible.ts): control
 * characters in it (from a host's output, quoted in a reason) are shown, not obeyed; only
 * Overhaul's own colours and the live display's redraw pass. Text forms make reasons `visible`
 * where they render them, so a redirected `status` or text report is safe to `cat` too; JSON,
 * HTML and Markdown written to a file or pipe keep their bytes (as with `-o`).
 *
 * A reader that stops reading (`overhaul status | head -1`) ends the output, not the command:
 * once stdout (or stderr) is a closed pipe, writes to it stop quietly and the command ends with
 * its own exit code, as `git log | head` ends without a word. Never a stack trace.
 */
import { formatProblem, type Problem } from "../core/errors.js";
import { terminalSafe } from "../core/output/visible.js";
export interface Out {
  color: boolean;
  write(s: string): void;
  err(s: string): void;
}

export function makeOut(opts: { noColor?: boolean } = {}): Out {
  const color =
    !opts.noColor && !process.env.NO_COLOR && process.stdout.isTTY === true && process.env.TERM !== "dumb";
  return {
    color,
    write: (s) => writeTo(process.stdout, s),
    err: (s) => writeTo(process.stderr, s),
  };
}

/**
 * Write unless the stream is gone (a closed pipe destroys it: nothing more can be said there);
 * escaped for a terminal (see the header).
 */
export function writeTo(stream: NodeJS.WriteStream, s: string): void {
  // A terminal obeys escape sequences; a file or pipe gets the bytes as rendered (a report or JSON
  // redirected to a file is the same as with -o; reasons are made visible where they are rendered).
  if (stream.writable) stream.write(stream.isTTY === true ? terminalSafe(s) : s);
}

let pipesGuarded = false;

/**
 * Make a closed stdout or stderr pipe (EPIPE) end the output quietly instead of crashing the
 * process with an unhandled 'error' event. Any other error on them stays fatal. Call once, at
 * the start of the CLI.
 */
export function quietOnClosedPipes(): void {
  if (pipesGuarded) return;
  pipesGuarded = true;
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "EPIPE") return;
      throw err;
    });
  }
}

const CODES: Record<string, [number, number]> = {
  red: [31, 39],
  green: [32, 39],
  yellow: [33, 39],
  blue: [34, 39],
  magenta: [35, 39],
  cyan: [36, 39],
  gray: [90, 39],
  bold: [1, 22],
  dim: [2, 22],
};

export function paint(out: Out, style: keyof typeof CODES, s: string): string {
  if (!out.color) return s;
  const [a, b] = CODES[style] as [number, number];
  return `\u001b[${a}m${s}\u001b[${b}m`;
}

export function stateColor(state: string): keyof typeof CODES {
  switch (state) {
    case "succeeded":
      return "green";
    case "failed":
    case "aborted":
      return "red";
    case "in_doubt":
    case "halting":
    case "reverting":
      return "magenta";
    case "running":
      return "cyan";
    case "paused":
      return "yellow";
    default:
      return "gray";
  }
}

export function table(rows: string[][], out: Out): string {
  const strip = (s: string) => s.replace(/\u001b\[[0-9;]*m/g, "");
  const widths: number[] = [];
  for (const r of rows) {
    r.forEach((c, i) => {
      widths[i] = Math.max(widths[i] ?? 0, strip(c).length);
    });
  }
  void out;
  return rows
    .map((r) =>
      r
        .map((c, i) => (i === r.length - 1 ? c : c + " ".repeat((widths[i] ?? 0) - strip(c).length)))
        .join("  "),
    )
    .join("\n");
}

/** Print the inventory's warnings (what `ansible-inventory` would warn about) to stderr. */
export function warnAll(out: Out, warnings: readonly Problem[]): void {
  for (const w of warnings) out.err(`${paint(out, "yellow", "warning")}: ${formatProblem(w)}\n`);
}
