/**
 * Reading inventory files from disk as text.
 *
 * Invariants:
 * - Text is UTF-8. Like Ansible's INI plugin, bytes that are not UTF-8 are tolerated only on
 *   comment lines (first byte `#` or `;`), which become empty lines so line numbers stay right;
 *   anywhere else they are an `InputError` naming the line.
 * - A file that cannot be read is an `InputError` naming it, never a raw `ENOENT` stack trace.
 * - `decodeText` (plans, scenarios, histories) tolerates nothing: the first line that is not UTF-8,
 *   or that holds a NUL byte (a binary file), is an `InputError` naming it, never text with U+FFFD
 *   in it or a binary file read as one long string.
 */
import { readFile } from "node:fs/promises";
import { InputError } from "../../core/errors.js";

const strict = new TextDecoder("utf-8", { fatal: true });

export async function readText(path: string, shown: string = path): Promise<string> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw new InputError(
      { file: shown, message: `cannot read the file: ${(e as Error).message}` },
      { cause: e },
    );
  }
  return decode(bytes, shown);
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

export function decode(bytes: Uint8Array, shown: string): string {
  try {
    return strict.decode(bytes);
  } catch {
    // decoded line by line below
  }
  return byLine(bytes, (text, line) => {
    const first = text[0];
    if (first === 0x23 || first === 0x3b) return "";
    try {
      return strict.decode(text);
    } catch (e) {
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
