/**
 * Python's `ast.literal_eval` as Ansible's INI plugin applies it to every `key=value` value
 * (inline host variables and `[group:vars]` lines alike).
 *
 * Invariants:
 * - `parsePyValue(text)` returns what Ansible stores: the evaluated literal when
 *   `literal_eval` accepts the text, else the text itself (so `yes` stays the string "yes",
 *   `True` becomes true, `"42"` after shlex becomes the number 42, `0777` stays a string).
 * - Tuples become arrays and dict keys become strings, as Ansible's JSON output shows them.
 * - Values Ansible would accept but cannot serialize (sets, complex numbers) are reported as
 *   `unsupported`, never silently turned into something else.
 * - Pure: no I/O.
 */

import { type PyToken, tokenize } from "./py-tokens.js";
import { pyKeyIdentity, setOwn } from "./pytext.js";

export type PyParse = { ok: true; value: unknown } | { ok: false; unsupported?: string };

type Node =
  | { t: "const"; kind: "int" | "float" | "str" | "bytes" | "bool" | "none"; value: unknown }
  | { t: "complex" }
  | { t: "list"; items: Node[] }
  | { t: "dict"; keys: Node[]; values: Node[] }
  | { t: "set" }
  | { t: "unsupported"; what: string }
  | { t: "unary"; op: string; operand: Node }
  | { t: "binop"; op: string; left: Node; right: Node };

class NotLiteral extends Error {}
class Unsupported extends Error {}

/** The value Ansible's INI plugin stores for `text`. */
export function parseIniValue(text: string): PyParse {
  const r = literalEval(text);
  if (r.ok || r.unsupported) return r;
  return { ok: true, value: text };
}

/** `ast.literal_eval(text)`: `{ok:false}` where Python raises ValueError or SyntaxError. */
export function literalEval(text: string): PyParse {
  const tokens = tokenize(text.replace(/^[ \t]+/, ""));
  if (!tokens) return { ok: false };
  try {
    const p = new Parser(tokens);
    const node = p.tupleOrItem();
    if (!p.atEnd()) return { ok: false };
    return { ok: true, value: convert(node, true) };
  } catch (e) {
    if (e instanceof Unsupported) return { ok: false, unsupported: e.message };
    if (e instanceof NotLiteral) return { ok: false };
    throw e;
  }
}

class Parser {
  private i = 0;
  constructor(private readonly tokens: PyToken[]) {}
  atEnd(): boolean {
    return this.i >= this.tokens.length;
  }
  private peekOp(value: string): boolean {
    const t = this.tokens[this.i];
    return t !== undefined && t.kind === "op" && t.value === value;
  }
  private eatOp(value: string): boolean {
    if (!this.peekOp(value)) return false;
    this.i++;
    return true;
  }
  private expectOp(value: string): void {
    if (!this.eatOp(value)) throw new NotLiteral();
  }
  /** `expr (, expr)* [,]` up to `close` (or the end); reports whether a comma was seen. */
  seq(close?: string): { items: Node[]; comma: boolean } {
    const items: Node[] = [];
    let comma = false;
    while (!this.atEnd() && !(close && this.peekOp(close))) {
      items.push(this.arith());
      if (!this.eatOp(",")) break;
      comma = true;
    }
    return { items, comma };
  }
  /** A bare or parenthesized expression list: one item without a comma is the item itself. */
  tupleOrItem(close?: string): Node {
    const { items, comma } = this.seq(close);
    if (items.length === 1 && !comma) return items[0] as Node;
    if (items.length === 0 && !close) throw new NotLiteral();
    return { t: "list", items };
  }
  private arith(): Node {
    let left = this.unary();
    while (this.peekOp("+") || this.peekOp("-")) {
      const op = (this.tokens[this.i++] as { value: string }).value;
      left = { t: "binop", op, left, right: this.unary() };
    }
    return left;
  }
  /** Signs in a loop, not by recursion: a value of thousands of `-` must not overflow the stack. */
  private unary(): Node {
    const ops: string[] = [];
    while (this.peekOp("+") || this.peekOp("-")) ops.push((this.tokens[this.i++] as { value: string }).value);
    let node = this.atom();
    for (let k = ops.length - 1; k >= 0; k--) node = { t: "unary", op: ops[k] as string, operand: node };
    return node;
  }
  private atom(): Node {
    const t = this.tokens[this.i++];
    if (!t) throw new NotLiteral();
    switch (t.kind) {
      case "int":
      case "float":
        if (!Number.isFinite(t.value)) return { t: "unsupported", what: "a number too large for JSON" };
        return { t: "const", kind: t.kind, value: t.value };
      case "complex":
        return { t: "complex" };
      case "str":
        return this.strings(t);
      case "name":
        return this.name(t.value);
      case "op":
        if (t.value === "(") {
          const inner = this.tupleOrItem(")");
          this.expectOp(")");
          return inner;
        }
        if (t.value === "[") {
          const { items } = this.seq("]");
          this.expectOp("]");
          return { t: "list", items };
        }
        if (t.value === "{") return this.braces();
        if (t.value === "...") return { t: "unsupported", what: "Python's Ellipsis" };
        throw new NotLiteral();
    }
  }
  private strings(first: Extract<PyToken, { kind: "str" }>): Node {
    let value = first.value;
    let fstring = first.fstring;
    while (this.tokens[this.i]?.kind === "str") {
      const t = this.tokens[this.i++] as Extract<PyToken, { kind: "str" }>;
      if (t.bytes !== first.bytes) throw new NotLiteral();
      value += t.value;
      fstring ||= t.fstring;
    }
    if (fstring) throw new NotLiteral();
    return { t: "const", kind: first.bytes ? "bytes" : "str", value };
  }
  private name(word: string): Node {
    if (word === "True" || word === "False") return { t: "const", kind: "bool", value: word === "True" };
    if (word === "None") return { t: "const", kind: "none", value: null };
    if (word === "set" && this.eatOp("(")) {
      this.expectOp(")");
      return { t: "set" };
    }
    throw new NotLiteral();
  }
  private braces(): Node {
    if (this.eatOp("}")) return { t: "dict", keys: [], values: [] };
    const first = this.arith();
    if (this.eatOp(":")) {
      const keys = [first];
      const values = [this.arith()];
      while (this.eatOp(",") && !this.peekOp("}")) {
        keys.push(this.arith());
        this.expectOp(":");
        values.push(this.arith());
      }
      this.expectOp("}");
      return { t: "dict", keys, values };
    }
    while (this.eatOp(",") && !this.peekOp("}")) this.arith();
    this.expectOp("}");
    return { t: "set" };
  }
}

function convert(node: Node, top: boolean): unknown {
  switch (node.t) {
    case "const":
      if (node.kind === "bytes" && !top) throw new Unsupported("a bytes value inside a container");
      return node.value;
    case "list":
      return node.items.map((n) => convert(n, false));
    case "dict": {
      // Python dict semantics: equal keys (1, 1.0, True) are one entry; first key, last value.
      const entries = new Map<unknown, [string, unknown]>();
      node.keys.forEach((k, idx) => {
        const id = pyKeyIdentity(k.t === "const" ? k.value : k.t === "unary" ? signedNumber(k) : k);
        const value = convert(node.values[idx] as Node, false);
        const had = entries.get(id);
        entries.set(id, [had ? had[0] : dictKey(k), value]);
      });
      const out: Record<string, unknown> = {};
      for (const [key, value] of entries.values()) setOwn(out, key, value);
      return out;
    }
    case "set":
      throw new Unsupported("a Python set, which Ansible cannot serialize");
    case "unsupported":
      throw new Unsupported(node.what);
    case "complex":
      throw new Unsupported("a complex number, which Ansible cannot serialize");
    case "unary": {
      const v = signedNumber(node);
      return v;
    }
    case "binop": {
      signedNumber(node.left);
      if (node.right.t === "complex")
        throw new Unsupported("a complex number, which Ansible cannot serialize");
      throw new NotLiteral();
    }
  }
}

function signedNumber(node: Node): number {
  if (node.t === "const" && (node.kind === "int" || node.kind === "float")) return node.value as number;
  if (node.t === "unary") {
    const o = node.operand;
    if (o.t === "complex") throw new Unsupported("a complex number, which Ansible cannot serialize");
    if (o.t === "const" && (o.kind === "int" || o.kind === "float")) {
      return node.op === "-" ? -(o.value as number) : (o.value as number);
    }
  }
  throw new NotLiteral();
}

/** The JSON key Python's `json.dumps` writes for a dict key. */
function dictKey(node: Node): string {
  if (node.t === "list") throw new Unsupported("a dict key that is a list or tuple");
  const v = node.t === "unary" ? signedNumber(node) : convert(node, true);
  if (typeof v === "string") return v;
  if (v === null) return "null";
  if (typeof v === "boolean") return v ? "true" : "false";
  if (typeof v === "number") {
    const isFloat = node.t === "const" ? node.kind === "float" : floatOperand(node);
    return isFloat ? pyFloatRepr(v) : String(v);
  }
  throw new Unsupported("an unsupported dict key");
}

function floatOperand(node: Node): boolean {
  return node.t === "unary" && node.operand.t === "const" && node.operand.kind === "float";
}

/** Python's `repr(float)`. */
export function pyFloatRepr(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (!Number.isFinite(v)) return v > 0 ? "Infinity" : "-Infinity";
  if (v === 0) return Object.is(v, -0) ? "-0.0" : "0.0";
  const exp = Math.floor(Math.log10(Math.abs(v)));
  if (exp < -4 || exp >= 16) {
    const [mant, e] = v.toExponential().split("e") as [string, string];
    const n = Number(e);
    return `${mant}e${n < 0 ? "-" : "+"}${String(Math.abs(n)).padStart(2, "0")}`;
  }
  const s = String(v);
  return s.includes(".") || s.includes("e") ? s : `${s}.0`;
}
