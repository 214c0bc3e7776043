/**
 * Reading inventory files from disk as text.
 *
 * Invariants:
 * - Text is UTF-8. Ansible decodes with `surrogateescape`, so its INI plugin accepts other bytes
 *   anywhere (a value holding them prints as `?`) while its YAML plugin, and `group_vars` /
 *   `host_vars`, fail on them. Overhaul keeps the useful part: `decodeIni` tolerates such bytes only
 *   on INI comment lines (`#` or `;` after optional leading whitespace, as the INI reader sees
 *   comments), which become empty lines so line numbers stay right; anywhere else, and in every
 *   YAML or vars file (`readText`), they are an `InputError` naming the line.
 * - A file that cannot be read is an `InputError` naming it, never a raw `ENOENT` stack trace.
 * - `decodeText` (plans, scenarios, histories) tolerates nothing: the first line that is not UTF-8,
 *   or that holds a NUL byte (a binary file), is an `InputError` naming it, never text with U+FFFD
 *   in it or a binary file read as one long string.
 */
import { readFile } from "node:fs/promises";
import { InputError } from "../../core/errors.js";
import { pyStrip } from "../../core/inventory/index.js";

const strict = new TextDecoder("utf-8", { fatal: true });
const lenient = new TextDecoder("utf-8");

/** The file's bytes; a file that cannot be read is an InputError naming it (as `shown`). */
export async function readBytes(path: string, shown: string = path): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (e) {
    throw new InputError(
      { file: shown, message: `cannot read the file: ${(e as Error).message}` },
      { cause: e },
    );
  }
}

/** The file as strict UTF-8 text (YAML inventories, vars files). */
export async function readText(path: string, shown: string = path): Promise<string> {
  return decode(await readBytes(path, shown), shown);
}

/** Strict UTF-8 text without NUL bytes (a leading byte-order mark is dropped). */
export function decodeText(bytes: Uint8Array, shown: string, what: string): string {
  if (bytes.indexOf(0) < 0) {
    try {
      return strict.decode(bytes);
    } catch {
      // the line is found below
    }
  }
  const refuse = (line: number, message: string, cause?: unknown) =>
    new InputError(
      { file: shown, line, message, expected: `a ${what} written as UTF-8 text` },
      cause === undefined ? undefined : { cause },
    );
  return byLine(bytes, (text, line) => {
    if (text.indexOf(0) >= 0) throw refuse(line, "the line holds a NUL byte: this looks like a binary file");
    try {
      return strict.decode(text);
    } catch (e) {
      throw refuse(line, "the line is not valid UTF-8", e);
    }
  });
}

/** Strict UTF-8: the first line that is not is an InputError naming it. */
export function decode(bytes: Uint8Array, shown: string): string {
  return decodeLines(bytes, shown, () => false);
}

/** For the INI reader: comment lines that are not UTF-8 become empty; any other such line is an error. */
export function decodeIni(bytes: Uint8Array, shown: string): string {
  return decodeLines(bytes, shown, (line) => {
    const first = pyStrip(lenient.decode(line))[0];
    return first === "#" || first === ";";
  });
}

function decodeLines(bytes: Uint8Array, shown: string, blank: (line: Uint8Array) => boolean): string {
  try {
    return strict.decode(bytes);
  } catch {
    // decoded line by line below
  }
  return byLine(bytes, (text, line) => {
    try {
      return strict.decode(text);
    } catch (e) {
      if (blank(text)) return "";
      throw new InputError(
        { file: shown, line, message: "the line is not valid UTF-8", expected: "UTF-8 text" },
        { cause: e },
      );
    }
  });
}

/** The file's lines (split at `\n`, numbered from 1), each turned into text by `decodeLine`. */
function byLine(bytes: Uint8Array, decodeLine: (text: Uint8Array, line: number) => string): string {
  const lines: string[] = [];
  for (let start = 0; ; ) {
    const nl = bytes.indexOf(0x0a, start);
    const end = nl < 0 ? bytes.length : nl;
    lines.push(decodeLine(bytes.subarray(start, end), lines.length + 1));
    if (nl < 0) return lines.join("\n");
    start = nl + 1;
  }
}
