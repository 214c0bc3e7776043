/**
 * CSV records as RFC 4180 writes them (Grafana's export quotes every cell): fields split on commas
 * outside double quotes; in a quoted field `""` is one quote, and commas and line breaks are data;
 * records end at LF or CRLF.
 *
 * Invariants:
 * - Pure. Every record keeps the 1-based line it starts on, so a caller's errors name file:line.
 * - Cells are returned as written, quotes removed, not trimmed; spaces around a quoted field are
 *   allowed and dropped.
 * - Malformed quoting is reported on its record (`error`), never guessed: a quote inside an
 *   unquoted field, text after a closing quote, a quoted field that never closes (that record then
 *   runs to the end of the text, and is the last).
 */

export interface CsvRecord {
  /** The line the record starts on (1-based). */
  line: number;
  cells: string[];
  /** An empty line (no cell, no quote). */
  blank: boolean;
  /** What is wrong with its quoting, if anything. */
  error?: string;
}

type State = "start" | "unquoted" | "quoted" | "closed";

export function parseCsv(text: string): CsvRecord[] {
  const out: CsvRecord[] = [];
  let line = 1;
  let start = 1;
  let cells: string[] = [];
  let cell = "";
  let quoted = false;
  let error: string | undefined;
  let state: State = "start";
  const endRecord = () => {
    cells.push(cell);
    const blank = cells.length === 1 && !quoted && (cells[0] as string).trim() === "";
    out.push({ line: start, cells, blank, ...(error !== undefined ? { error } : {}) });
    cells = [];
    cell = "";
    quoted = false;
    error = undefined;
    state = "start";
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (state === "quoted") {
      if (c !== '"') {
        if (c === "\n") line++;
        cell += c;
      } else if (text[i + 1] === '"') {
        cell += '"';
        i++;
      } else state = "closed";
      continue;
    }
    if (c === "," || c === "\n" || (c === "\r" && text[i + 1] === "\n")) {
      if (c === ",") {
        cells.push(cell);
        cell = "";
        state = "start";
        continue;
      }
      if (c === "\r") i++;
      endRecord();
      line++;
      start = line;
      continue;
    }
    if (state === "start" && c === '"') {
      cell = "";
      quoted = true;
      state = "quoted";
    } else if (state === "closed") {
      if (c !== " " && c !== "\t") error ??= "text after the closing quote of a field";
    } else {
      if (c === '"') error ??= "a quote inside an unquoted field";
      else if (c !== " " && c !== "\t") state = "unquoted";
      cell += c;
    }
  }
  if (state === "quoted") {
    error ??= "a quoted field that never closes";
    endRecord();
  } else if (cells.length > 0 || cell !== "" || quoted) endRecord();
  return out;
}
