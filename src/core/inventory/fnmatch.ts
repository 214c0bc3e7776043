/**
 * Shell-style globs (`web*`, `db?`, `[a-c]x`, `[!x]`) and `~regex` host patterns, compiled the way
 * Ansible's `InventoryManager._match_list` compiles them (Python's `fnmatch.translate` / `re`).
 *
 * Invariants:
 * - A glob must match the whole name, case-sensitively; `[` without a closing `]` is literal;
 *   `[!...]` negates; reversed ranges such as `[z-a]` match nothing, as in Python.
 * - A `~regex` matches at the start of the name (Python's `re.match`), not necessarily to its end.
 * - Python-only regex syntax is translated where it has a JavaScript equivalent (`(?P<n>`,
 *   `(?P=n)`, `\A`, `\Z`); anything else JavaScript rejects is a `PatternSyntaxError`.
 * - A `~regex` that may take exponential time on some names (a repetition inside a repetition,
 *   as `safe-regex` judges it: `(a+)+`, `(.*)*`) is a `PatternSyntaxError` too: matched against
 *   every host and group name on the coordinator's one thread, it would stall the coordinator
 *   (and `overhaul serve`, where any operator can send a limit) for minutes. Ansible accepts it.
 * - Pure: no I/O.
 */

import safeRegex from "safe-regex";

export class PatternSyntaxError extends Error {}

const REGEX_SPECIAL = /[\\^$.*+?()[\]{}|/-]/;

/** A predicate for one glob or `~regex` pattern. */
export function compileMatcher(pattern: string): (name: string) => boolean {
  if (pattern.startsWith("~")) {
    let re: RegExp;
    try {
      re = new RegExp(translatePythonRegex(pattern.slice(1)), "y");
    } catch (e) {
      throw new PatternSyntaxError(`invalid regular expression in "${pattern}": ${(e as Error).message}`);
    }
    if (!safeRegex(re))
      throw new PatternSyntaxError(
        `regular expression in "${pattern}" may take exponential time on some names (a repetition inside a repetition, such as (a+)+ or (.*)*); write it without the nested repetition`,
      );
    return (name) => {
      re.lastIndex = 0;
      return re.test(name);
    };
  }
  const re = new RegExp(`^(?:${globToRegex(pattern)})$`, "s");
  return (name) => re.test(name);
}

function translatePythonRegex(src: string): string {
  return src
    .replace(/\(\?P</g, "(?<")
    .replace(/\(\?P=([A-Za-z_][A-Za-z0-9_]*)\)/g, "\\k<$1>")
    .replace(/\\A/g, "^")
    .replace(/\\Z/g, "$");
}

/** Python's `fnmatch.translate`, producing a JavaScript regex body. */
export function globToRegex(pat: string): string {
  let out = "";
  let i = 0;
  const n = pat.length;
  while (i < n) {
    const c = pat[i] as string;
    i++;
    if (c === "*") {
      if (!out.endsWith(".*")) out += ".*";
    } else if (c === "?") {
      out += ".";
    } else if (c === "[") {
      let j = i;
      if (j < n && pat[j] === "!") j++;
      if (j < n && pat[j] === "]") j++;
      while (j < n && pat[j] !== "]") j++;
      if (j >= n) {
        out += "\\[";
        continue;
      }
      out += charClass(pat.slice(i, j));
      i = j + 1;
    } else {
      out += REGEX_SPECIAL.test(c) ? `\\${c}` : c;
    }
  }
  return out;
}

/** One `[...]` set (without the brackets), as a JavaScript character class. */
function charClass(stuff: string): string {
  const negate = stuff.startsWith("!");
  const body = negate ? stuff.slice(1) : stuff;
  const chars: string[] = [];
  let k = 0;
  while (k < body.length) {
    const a = body[k] as string;
    if (body[k + 1] === "-" && k + 2 < body.length) {
      const b = body[k + 2] as string;
      if (a <= b) chars.push(`${esc(a)}-${esc(b)}`);
      k += 3;
    } else {
      chars.push(esc(a));
      k++;
    }
  }
  if (chars.length === 0) return negate ? "." : "(?!)";
  return `[${negate ? "^" : ""}${chars.join("")}]`;
}

function esc(ch: string): string {
  return /[\\\]^[-]/.test(ch) ? `\\${ch}` : ch;
}
