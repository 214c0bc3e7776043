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
  let start = 0;
  for (let line = 1; start <= bytes.length; line++) {
    let end = bytes.indexOf(0x0a, start);
    if (end < 0) end = bytes.length;
    const bytesOfLine = bytes.subarray(start, end);
    let message: string | undefined;
    if (bytesOfLine.indexOf(0) >= 0) message = "the line holds a NUL byte: this looks like a binary file";
    else
      try {
        strict.decode(bytesOfLine);
      } catch {
        message = "the line is not valid UTF-8";
      }
    if (message !== undefined)
      throw new InputError({ file: shown, line, message, expected: `a ${what} written as UTF-8 text` });
    start = end + 1;
  }
  // Unreachable: a file that fails to decode has a line that fails (a sequence never spans `\n`).
  throw new InputError({
    file: shown,
    message: "the file is not valid UTF-8",
    expected: `a ${what} written as UTF-8 text`,
  });
}

export function decode(bytes: Uint8Array, shown: string): string {
  try {
    return strict.decode(bytes);
  } catch {
    // fall through to the line-by-line decoding below
  }
  const lines: string[] = [];
  let start = 0;
  for (let i = 0; i <= bytes.length; i++) {
    if (i < bytes.length && bytes[i] !== 0x0a) continue;
    const line = bytes.subarray(start, i);
    const first = line[0];
    if (first === 0x23 || first === 0x3b) {
      lines.push("");
    } else {
      try {
        lines.push(strict.decode(line));
      } catch (e) {
        throw new InputError(
          {
            file: shown,
            line: lines.length + 1,
            message: "the line is not valid UTF-8",
            expected: "UTF-8 text",
          },
          { cause: e },
        );
      }
    }
    start = i + 1;
  }
  return lines.join("\n");
}
