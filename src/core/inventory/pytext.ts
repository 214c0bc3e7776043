/**
 * Small Python string semantics that Ansible's inventory code relies on.
 *
 * Invariants:
 * - `pySplitLines` and `pyStrip` split and strip on exactly the characters Python's
 *   `str.splitlines()` and `str.strip()` use, so INI line numbers and values match Ansible's.
 * - `pyCompare` orders strings by code point, like Python's `sorted()` (JavaScript's `<` compares
 *   UTF-16 code units, which differs for characters outside the Basic Multilingual Plane).
 * - Pure: no I/O.
 */

const LINE_BREAK = /\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]/;
const PY_SPACE =
  "\t\n\v\f\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000";

/** Python's `str.splitlines()` (no trailing empty line for a final line break). */
export function pySplitLines(text: string): string[] {
  if (text === "") return [];
  const lines = text.split(LINE_BREAK);
  if (lines.length > 1 && lines[lines.length - 1] === "") lines.pop();
  return lines;
}

export function isPySpace(ch: string): boolean {
  return ch.length > 0 && PY_SPACE.includes(ch);
}

/** Python's `str.strip()` with no argument. */
export function pyStrip(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && isPySpace(text[start] as string)) start++;
  while (end > start && isPySpace(text[end - 1] as string)) end--;
  return text.slice(start, end);
}

/** Number of leading characters `pyStrip` would remove (to report columns in the raw line). */
export function leadingPySpace(text: string): number {
  let i = 0;
  while (i < text.length && isPySpace(text[i] as string)) i++;
  return i;
}

/** Compare two strings by Unicode code point, as Python does. */
export function pyCompare(a: string, b: string): number {
  if (a === b) return 0;
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next();
    const y = ib.next();
    if (x.done) return y.done ? 0 : -1;
    if (y.done) return 1;
    const cx = x.value.codePointAt(0) as number;
    const cy = y.value.codePointAt(0) as number;
    if (cx !== cy) return cx < cy ? -1 : 1;
  }
}

/** Set `obj[key] = value` as a plain own property, even for `__proto__`. */
export function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  if (key === "__proto__") {
    Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    obj[key] = value;
  }
}

/** Maps character offsets to 1-based line and column numbers. */
export class LineIndex {
  private readonly starts: number[] = [0];
  constructor(text: string) {
    for (let i = 0; i < text.length; i++) {
      if (text[i] === "\n") this.starts.push(i + 1);
    }
  }
  at(offset: number): { line: number; column: number } {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.starts[mid] as number) <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - (this.starts[lo] as number) + 1 };
  }
}

/** A value that is equal for dict keys Python considers equal (`1`, `1.0` and `True` are one key). */
export function pyKeyIdentity(key: unknown): unknown {
  if (typeof key === "boolean" || typeof key === "number") return `n:${Number(key)}`;
  if (typeof key === "string") return `s:${key}`;
  if (key === null || key === undefined) return "none";
  return key;
}
