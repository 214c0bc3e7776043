/**
 * A tokenizer for the part of Python's expression syntax that `ast.literal_eval` can accept:
 * numbers, string and bytes literals (with prefixes and escapes), names, brackets and `, : + -`.
 *
 * Invariants:
 * - Any input Python would reject as a syntax error, or that can only produce nodes
 *   `literal_eval` refuses (calls other than `set()`, attributes, operators other than `+ -`),
 *   makes `tokenize` return `undefined`, so the caller keeps the raw text, as Ansible does.
 * - Brackets nest at most 200 deep, as in Python's tokenizer (deeper is its "too many nested
 *   parentheses" syntax error, so Ansible keeps the text); the parser never recurses deeper.
 * - Number rules follow Python 3.11 (underscores only between digits, no leading zeros in
 *   non-zero decimal integers, `1.`, `.5`, `1e5`, `0x/0o/0b`, `j` suffix).
 * - Pure: no I/O.
 */

export type PyToken =
  | { kind: "int"; value: number }
  | { kind: "float"; value: number }
  | { kind: "complex" }
  | { kind: "str"; value: string; bytes: boolean; fstring: boolean }
  | { kind: "name"; value: string }
  | { kind: "op"; value: string };

const NUMBER =
  /0[xX](?:_?[0-9a-fA-F])+|0[oO](?:_?[0-7])+|0[bB](?:_?[01])+|(?:(?:[0-9](?:_?[0-9])*)?\.[0-9](?:_?[0-9])*|[0-9](?:_?[0-9])*\.?)(?:[eE][+-]?[0-9](?:_?[0-9])*)?[jJ]?/y;
const NAME = /[\p{L}\p{Nl}_][\p{L}\p{Nl}\p{Mn}\p{Mc}\p{Nd}\p{Pc}]*/uy;
const NAME_CHAR = /[\p{L}\p{Nl}\p{Mn}\p{Mc}\p{Nd}\p{Pc}]/u;
const STRING_PREFIXES = new Set(["r", "u", "b", "br", "rb", "f", "fr", "rf"]);
const OPS = "()[]{},:+-";
/** Python's tokenizer refuses brackets nested deeper than this (MAXLEVEL). */
const MAX_NESTING = 200;
const SIMPLE_ESCAPES: Record<string, string> = {
  "\\": "\\",
  "'": "'",
  '"': '"',
  a: "\x07",
  b: "\b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
  v: "\v",
};

/** Tokenize a Python expression; `undefined` when Python would not accept it as a literal. */
export function tokenize(src: string): PyToken[] | undefined {
  const out: PyToken[] = [];
  let i = 0;
  let level = 0;
  while (i < src.length) {
    const ch = src[i] as string;
    if (ch === " " || ch === "\t" || ch === "\f") {
      i++;
      continue;
    }
    if (ch === "#") break;
    if (src.startsWith("...", i)) {
      out.push({ kind: "op", value: "..." });
      i += 3;
      continue;
    }
    if (OPS.includes(ch)) {
      if (ch === "(" || ch === "[" || ch === "{") {
        if (level >= MAX_NESTING) return undefined;
        level++;
      } else if (ch === ")" || ch === "]" || ch === "}") level--;
      out.push({ kind: "op", value: ch });
      i++;
      continue;
    }
    if (ch === "'" || ch === '"') {
      const s = readString(src, i, "");
      if (!s) return undefined;
      out.push(s.token);
      i = s.end;
      continue;
    }
    NUMBER.lastIndex = i;
    const num = NUMBER.exec(src);
    if (num && num[0] !== ".") {
      const text = num[0];
      const next = src[i + text.length];
      if (next !== undefined && (NAME_CHAR.test(next) || next === ".")) return undefined;
      const token = numberToken(text);
      if (!token) return undefined;
      out.push(token);
      i += text.length;
      continue;
    }
    NAME.lastIndex = i;
    const name = NAME.exec(src);
    if (name) {
      const word = name[0];
      const after = src[i + word.length];
      if ((after === "'" || after === '"') && STRING_PREFIXES.has(word.toLowerCase())) {
        const s = readString(src, i + word.length, word.toLowerCase());
        if (!s) return undefined;
        out.push(s.token);
        i = s.end;
        continue;
      }
      out.push({ kind: "name", value: word });
      i += word.length;
      continue;
    }
    return undefined;
  }
  return out;
}

function numberToken(text: string): PyToken | undefined {
  const clean = text.replace(/_/g, "");
  if (/[jJ]$/.test(clean)) return { kind: "complex" };
  if (/^0[xXoObB]/.test(clean)) return { kind: "int", value: Number(clean.toLowerCase()) };
  if (/[.eE]/.test(clean)) return { kind: "float", value: Number(clean) };
  if (/^0+$/.test(clean)) return { kind: "int", value: 0 };
  if (clean.startsWith("0")) return undefined; // leading zeros are a syntax error in Python 3
  return { kind: "int", value: Number(clean) };
}

function readString(src: string, start: number, prefix: string): { token: PyToken; end: number } | undefined {
  const q = src[start] as string;
  const triple = src.startsWith(q.repeat(3), start);
  const quote = triple ? q.repeat(3) : q;
  const raw = prefix.includes("r");
  const bytes = prefix.includes("b");
  let i = start + quote.length;
  let body = "";
  for (;;) {
    if (i >= src.length) return undefined;
    if (src.startsWith(quote, i)) break;
    const ch = src[i] as string;
    if (!triple && (ch === "\n" || ch === "\r")) return undefined;
    if (ch === "\\") {
      const nx = src[i + 1];
      if (nx === undefined) return undefined;
      if (raw) {
        body += ch + nx;
        i += 2;
        continue;
      }
      const esc = readEscape(src, i + 1, bytes);
      if (!esc) return undefined;
      body += esc.text;
      i = esc.end;
      continue;
    }
    if (bytes && ch.charCodeAt(0) > 0x7f) return undefined;
    body += ch;
    i++;
  }
  return {
    token: { kind: "str", value: body, bytes, fstring: prefix.includes("f") },
    end: i + quote.length,
  };
}

function readEscape(src: string, at: number, bytes: boolean): { text: string; end: number } | undefined {
  const c = src[at] as string;
  const simple = SIMPLE_ESCAPES[c];
  if (simple !== undefined) return { text: simple, end: at + 1 };
  if (c === "\n") return { text: "", end: at + 1 };
  if (/[0-7]/.test(c)) {
    const m = /[0-7]{1,3}/y;
    m.lastIndex = at;
    const digits = (m.exec(src) as RegExpExecArray)[0];
    return { text: String.fromCodePoint(Number.parseInt(digits, 8)), end: at + digits.length };
  }
  const hexLen = c === "x" ? 2 : !bytes && c === "u" ? 4 : !bytes && c === "U" ? 8 : 0;
  if (hexLen > 0) {
    const hex = src.slice(at + 1, at + 1 + hexLen);
    if (!new RegExp(`^[0-9a-fA-F]{${hexLen}}$`).test(hex)) return undefined;
    const code = Number.parseInt(hex, 16);
    if (code > 0x10ffff) return undefined;
    return { text: String.fromCodePoint(code), end: at + 1 + hexLen };
  }
  if (!bytes && c === "N") return undefined; // \N{name}: not supported, keep the raw text
  return { text: `\\${c}`, end: at + 1 };
}
