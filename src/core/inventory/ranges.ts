/**
 * Host ranges in inventory entries: `web[01:20].example.com`, `db-[a:f]`, `n[1:10:2]`, several
 * ranges in one name (`r[1:2]-n[01:03]`), and the `host:port` suffix.
 *
 * Invariants:
 * - Expansion is textual and recursive on the first `[...]`, exactly like Ansible's
 *   `expand_hostname_range`: a begin with a leading zero pads every value to its width (and the
 *   end must have the same width); letters index into `a-zA-Z`; an empty begin means 0; a begin
 *   greater than the end gives no hosts for numbers and an error for letters.
 * - Bad ranges are `RangeSyntaxError`s with a message saying what a range looks like; callers add
 *   the file and line.
 * - Pure: no I/O.
 */
import { parseAddress } from "./address.js";

const LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
/** A guard against typos such as `[1:1000000000]`; Ansible has none, but it would never finish. */
export const MAX_RANGE_HOSTS = 1_000_000;

export class RangeSyntaxError extends Error {}

export const RANGE_EXPECTED = "[begin:end] or [begin:end:step], e.g. web[01:20] or db-[a:f]";

/** `{hostnames, port}` for one inventory host entry, as Ansible's `_expand_hostpattern` computes them. */
export function expandHostPattern(entry: string): { hostnames: string[]; port?: number } {
  const parsed = parseAddress(entry);
  const pattern = parsed ? parsed.host : entry;
  const hostnames = pattern.includes("[") ? expandHostnameRange(pattern) : [pattern];
  return parsed?.port === undefined ? { hostnames } : { hostnames, port: parsed.port };
}

/** Ansible's `expand_hostname_range`. */
export function expandHostnameRange(line: string): string[] {
  const out: string[] = [];
  expandInto(line, out);
  return out;
}

function expandInto(line: string, out: string[]): void {
  const swapped = line.replace("[", "|").replace("]", "|");
  const parts = swapped.split("|");
  if (parts.length !== 3) throw new RangeSyntaxError(`cannot read the range in "${line}"`);
  const [head, nrange, tail] = parts as [string, string, string];
  const bounds = nrange.split(":");
  if (bounds.length !== 2 && bounds.length !== 3) {
    throw new RangeSyntaxError(`host range must be begin:end or begin:end:step, got "[${nrange}]"`);
  }
  const beg = bounds[0] === "" ? "0" : (bounds[0] as string);
  const end = bounds[1] as string;
  if (end === "") throw new RangeSyntaxError(`host range must specify an end value, got "[${nrange}]"`);
  let fill = (x: string): string => x;
  if (beg[0] === "0" && beg.length > 1) {
    if (beg.length !== end.length) {
      throw new RangeSyntaxError(
        `host range must specify equal-length begin and end formats, got "[${nrange}]"`,
      );
    }
    fill = (x) => x.padStart(beg.length, "0");
  }
  const step = bounds.length === 3 ? pyInt(bounds[2] as string, nrange) : 1;
  const seq = sequence(beg, end, step, nrange);
  if (out.length + seq.length > MAX_RANGE_HOSTS) {
    throw new RangeSyntaxError(`host range "[${nrange}]" expands to more than ${MAX_RANGE_HOSTS} hosts`);
  }
  for (const item of seq) {
    const name = `${head}${fill(item)}${tail}`;
    if (name.includes("[")) expandInto(name, out);
    else out.push(name);
  }
}

function sequence(beg: string, end: string, step: number, nrange: string): string[] {
  const iBeg = LETTERS.indexOf(beg);
  const iEnd = LETTERS.indexOf(end);
  if (iBeg >= 0 && iEnd >= 0) {
    if (iBeg > iEnd) throw new RangeSyntaxError(`host range must have begin <= end, got "[${nrange}]"`);
    if (step === 0) throw new RangeSyntaxError(`host range step must not be zero, got "[${nrange}]"`);
    return pySlice(LETTERS.slice(iBeg, iEnd + 1).split(""), step);
  }
  const b = pyInt(beg, nrange);
  const e = pyInt(end, nrange) + 1;
  if (step === 0) throw new RangeSyntaxError(`host range step must not be zero, got "[${nrange}]"`);
  const count = step > 0 ? Math.ceil((e - b) / step) : Math.ceil((b - e) / -step);
  if (count > MAX_RANGE_HOSTS) {
    throw new RangeSyntaxError(`host range "[${nrange}]" expands to more than ${MAX_RANGE_HOSTS} hosts`);
  }
  const out: string[] = [];
  for (let k = 0; k < count; k++) out.push(String(b + k * step));
  return out;
}

/** `seq[::step]` (the letters slice already starts at begin). */
function pySlice(items: string[], step: number): string[] {
  if (step > 0) return items.filter((_, k) => k % step === 0);
  // A negative step over `letters[b:e+1]` starts from the end only when begin > end, which was
  // rejected above, so Python gives an empty list here.
  return [];
}

/** Python's `int(text)` for range bounds: optional sign, digits with single underscores. */
function pyInt(text: string, nrange: string): number {
  const t = text.trim();
  if (!/^[+-]?[0-9](?:_?[0-9])*$/.test(t)) {
    throw new RangeSyntaxError(`"${text}" in host range "[${nrange}]" is not a number or a letter`);
  }
  return Number(t.replace(/_/g, ""));
}
