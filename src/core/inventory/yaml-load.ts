/**
 * Load YAML or JSON text the way Ansible's `DataLoader` does, keeping positions for errors.
 *
 * Invariants:
 * - Text that is valid JSON is read as JSON (Ansible tries `json.loads` first, so `1e5` is a
 *   number there and a string in YAML 1.1); anything else is YAML 1.1 with PyYAML's scalar rules.
 * - Mappings behave like Python dicts: `<<` merge keys are flattened before the node's own keys,
 *   as PyYAML does, and an own key replaces a merged one in its first position with its value.
 * - `refuseDuplicateKeys`: a key written twice in one mapping (`1`, `1.0` and `true` are one key,
 *   as in Python) is an `InputError` naming both places. Ansible warns and keeps the last value,
 *   which silently drops what the first defined (a whole group's hosts); the inventory readers call
 *   it on every document. Keys a merge brings in and the mapping overrides are not duplicates.
 * - An alias stands for the last node before it with that anchor; all aliases are resolved in one
 *   pass at load (`anchors`), never by walking the document per alias. How much aliases may expand
 *   is `yaml-aliases.ts`'s budget, which the readers check before reading values.
 * - Every syntax problem, unknown tag or unhashable key is an `InputError` with file, line and
 *   column; nothing here throws anything else for bad input.
 * - Pure: no I/O.
 */
import {
  type Alias,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  type Node,
  parseDocument,
  type Scalar,
  visit,
} from "yaml";
import { InputError, type Problem } from "../errors.js";
import type { Origin } from "./data.js";
import { pyFloatRepr } from "./py-literal.js";
import { LineIndex, pyKeyIdentity, setOwn } from "./pytext.js";
import { FLOAT_RE, MERGE_KEY, PYYAML_TAGS, VALUE_KEY } from "./yaml-schema.js";

export interface YamlSource {
  readonly file: string;
  readonly lines: LineIndex;
  readonly doc: ReturnType<typeof parseDocument>;
  /** The top node, or null for an empty document. */
  readonly root: Node | null;
  /** Each alias's anchored node (the last node with its anchor before it), found in one pass. */
  readonly anchors: ReadonlyMap<Alias, Node>;
}

export interface Pair {
  key: unknown;
  keyNode: Node;
  valueNode: Node | null;
}

const MAX_DEPTH = 200;

/** Parse `text`; throws InputError for syntax errors. */
export function loadYaml(text: string, file: string): YamlSource {
  const json = isJson(text);
  const doc = parseDocument(text, {
    version: json ? "1.2" : "1.1",
    schema: json ? "json" : "failsafe",
    ...(json ? {} : { customTags: (tags) => [...tags, ...PYYAML_TAGS] }),
    resolveKnownTags: false,
    uniqueKeys: false,
    merge: false,
    prettyErrors: true,
  });
  const lines = new LineIndex(text);
  const problems = [...doc.errors, ...doc.warnings.filter((w) => w.code === "TAG_RESOLVE_FAILED")];
  const first = problems[0];
  if (first) {
    const pos = first.linePos?.[0];
    throw new InputError({
      file,
      ...(pos ? { line: pos.line, column: pos.col } : {}),
      // The parser reports running out of stack as one of its errors: a document nested deeper
      // than anything it can read (Ansible's PyYAML fails the same way).
      ...(/call stack/i.test(first.message)
        ? {
            message: "the YAML is nested too deeply to read",
            expected: `YAML (or JSON) nested at most ${MAX_DEPTH} levels deep`,
          }
        : {
            message: `YAML: ${(first.message.split("\n")[0] ?? "").replace(/ at line \d+, column \d+:?$/, "")}`,
            expected: "valid YAML (or JSON)",
          }),
    });
  }
  const anchors = new Map<Alias, Node>();
  const src: YamlSource = { file, lines, doc, root: (doc.contents as Node | null) ?? null, anchors };
  // `Alias.resolve` walks the whole document on every call, which made a 5,000-host inventory
  // with `<<: *defaults` per host take a minute: resolve every alias once, in document order.
  const current = new Map<string, Node>();
  visit(doc, {
    Node(_key, node) {
      const name = isAlias(node) ? node.source : node.anchor;
      // libyaml (which Ansible uses) only accepts letters, digits, `-` and `_` in anchor names.
      if (name !== undefined && !/^[A-Za-z0-9_-]+$/.test(name)) {
        fail(src, node, `YAML anchor or alias name "${name}" may use only letters, digits, - and _`);
      }
      if (isAlias(node)) {
        const target = current.get(node.source);
        if (target) anchors.set(node, target);
      } else if (name !== undefined) {
        current.set(name, node);
      }
    },
  });
  return src;
}

function isJson(text: string): boolean {
  const t = text.trim();
  if (t === "") return false;
  try {
    JSON.parse(t);
    return true;
  } catch {
    return false;
  }
}

/** Where `node` starts. */
export function originOf(src: YamlSource, node: Node | null | undefined): Origin {
  const offset = node?.range?.[0];
  return offset === undefined ? { file: src.file } : { file: src.file, ...src.lines.at(offset) };
}

function fail(src: YamlSource, node: Node | null | undefined, message: string, expected?: string): never {
  throw new InputError({ ...originOf(src, node), message, ...(expected ? { expected } : {}) });
}

/**
 * Throw one InputError listing every key written twice in the same mapping, anywhere in the
 * document (aliases are checked where their anchor is, not again where they are used).
 */
export function refuseDuplicateKeys(src: YamlSource): void {
  const problems: Problem[] = [];
  const stack: { node: Node | null; path: string }[] = [{ node: src.root, path: "" }];
  for (let next = stack.pop(); next; next = stack.pop()) {
    const { node, path } = next;
    if (isSeq(node)) {
      node.items.forEach((item, i) => {
        stack.push({ node: item as Node, path: `${path}[${i}]` });
      });
    } else if (isMap(node)) {
      const seen = new Map<unknown, Node>();
      const children: { node: Node | null; path: string }[] = [];
      for (const item of node.items) {
        const keyNode = item.key as Node | null;
        const key = keyNode ? deref(src, keyNode) : null;
        const scalarKey = isScalar(key) && key.value !== MERGE_KEY;
        const name = scalarKey ? String(key.value === VALUE_KEY ? "=" : (key.source ?? key.value)) : "";
        const at = scalarKey ? `${path}${path === "" ? "" : "."}${name}` : path;
        if (scalarKey) {
          const id = pyKeyIdentity(key.value === VALUE_KEY ? "=" : key.value);
          const first = seen.get(id);
          if (first === undefined) seen.set(id, keyNode as Node);
          else problems.push(duplicateKey(src, name, at, first, keyNode as Node));
        }
        children.push({ node: (item.value as Node | null) ?? null, path: at });
      }
      stack.push(...children.reverse());
    }
  }
  if (problems.length > 0) {
    const pos = (p: Problem) => (p.line ?? 0) * 1e6 + (p.column ?? 0);
    throw new InputError(problems.sort((a, b) => pos(a) - pos(b)));
  }
}

function duplicateKey(src: YamlSource, name: string, path: string, first: Node, again: Node): Problem {
  const was = originOf(src, first);
  return {
    ...originOf(src, again),
    path,
    message: `key "${name}" appears twice in this mapping (first at ${src.file}:${was.line}:${was.column}); Ansible keeps only the last and silently drops what the first defines`,
    expected: "each key once per mapping: merge the two entries into one",
  };
}

/** Follow aliases to the anchored node. */
export function deref(src: YamlSource, node: Node | null): Node | null {
  let n = node;
  for (let hops = 0; n && isAlias(n); hops++) {
    if (hops > MAX_DEPTH) fail(src, node, "YAML alias loop");
    n = src.anchors.get(n) ?? fail(src, node, `YAML alias *${n.source} has no anchor`);
  }
  return n;
}

export function isMapping(src: YamlSource, node: Node | null): boolean {
  return isMap(deref(src, node));
}

/** The entries of a mapping node in Python-dict order (merge keys first, then own keys). */
export function pairsOf(src: YamlSource, node: Node | null, depth = 0): Pair[] {
  const map = deref(src, node);
  if (!isMap(map)) return [];
  if (depth > MAX_DEPTH) fail(src, node, "YAML nesting too deep");
  const merged: Pair[] = [];
  const own: Pair[] = [];
  for (const item of map.items) {
    const keyNode = (item.key as Node | null) ?? map;
    const valueNode = (item.value as Node | null) ?? null;
    if (isScalar(keyNode) && keyNode.value === MERGE_KEY) {
      merged.push(...mergeSources(src, valueNode, depth));
      continue;
    }
    own.push({ key: keyOf(src, keyNode), keyNode, valueNode });
  }
  const order: Pair[] = [];
  const index = new Map<unknown, number>();
  for (const p of [...merged, ...own]) {
    const id = pyKeyIdentity(p.key);
    const at = index.get(id);
    if (at === undefined) {
      index.set(id, order.length);
      order.push(p);
    } else {
      order[at] = { ...(order[at] as Pair), valueNode: p.valueNode };
    }
  }
  return order;
}

function mergeSources(src: YamlSource, valueNode: Node | null, depth: number): Pair[] {
  const v = deref(src, valueNode);
  if (isMap(v)) return pairsOf(src, v, depth + 1);
  if (isSeq(v)) {
    const parts = v.items.map((item) => {
      const m = deref(src, item as Node);
      if (!isMap(m)) fail(src, item as Node, "YAML merge key expects a mapping or a list of mappings");
      return pairsOf(src, m, depth + 1);
    });
    return parts.reverse().flat();
  }
  return fail(src, valueNode, "YAML merge key expects a mapping or a list of mappings");
}

/** The Python value of a mapping key; collections cannot be keys (unhashable in Python). */
function keyOf(src: YamlSource, keyNode: Node): unknown {
  const k = deref(src, keyNode);
  if (!isScalar(k)) fail(src, keyNode, "YAML mapping key is a list or mapping", "a plain key");
  const v = (k as Scalar).value;
  return v === VALUE_KEY ? "=" : v;
}

/** The JSON object key Python writes for a dict key. */
export function keyString(src: YamlSource, key: unknown, keyNode: Node): string {
  if (typeof key === "string") return key;
  if (key === null) return "null";
  if (typeof key === "boolean") return key ? "true" : "false";
  if (typeof key === "number") {
    const text = isScalar(keyNode) ? String((keyNode as Scalar).source ?? "") : "";
    return FLOAT_RE.test(text) ? pyFloatRepr(key) : String(key);
  }
  return fail(src, keyNode, "YAML mapping key of an unsupported type", "a string key");
}

/** The plain JavaScript value of a node (JSON-compatible, Python-dict semantics). */
export function toValue(src: YamlSource, node: Node | null, depth = 0): unknown {
  if (depth > MAX_DEPTH) fail(src, node, "YAML nesting too deep (or a recursive alias)");
  const n = deref(src, node);
  if (n === null) return null;
  if (isScalar(n)) {
    if (n.value === MERGE_KEY || n.value === VALUE_KEY) {
      fail(src, n, `YAML value "${n.value === MERGE_KEY ? "<<" : "="}" must be quoted`, "a quoted string");
    }
    return n.value;
  }
  if (isSeq(n)) return n.items.map((item) => toValue(src, item as Node, depth + 1));
  if (isMap(n)) {
    const out: Record<string, unknown> = {};
    for (const p of pairsOf(src, n, depth)) {
      setOwn(out, keyString(src, p.key, p.keyNode), toValue(src, p.valueNode, depth + 1));
    }
    return out;
  }
  return fail(src, node, "unsupported YAML node");
}
