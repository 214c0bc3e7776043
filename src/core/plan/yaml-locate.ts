/**
 * Find where a value lives in a parsed YAML document, given the path zod reports for it.
 *
 * Invariants:
 * - Pure and total: any path on any document yields an answer (possibly "nowhere"), never a throw.
 * - A path that stops early (a missing key) resolves to the deepest node that exists, i.e. the
 *   parent mapping, so a "missing key" problem points at the mapping that lacks it.
 * - Aliases and merge keys (`<<: *base`) are followed to the node that holds the text, because
 *   that is where the operator has to fix it. Own keys win over merged ones, as in YAML.
 * - Paths are written the way people read them: `steps[2].retry.attempts`.
 */
import {
  type Document,
  isAlias,
  isMap,
  isNode,
  isScalar,
  isSeq,
  type LineCounter,
  type Node,
  type Pair,
} from "yaml";

export interface Located {
  /** Deepest node reached along the path (the value node when the whole path exists). */
  node: Node | null;
  /** Key node of the last mapping entry reached, when the last step went through a mapping. */
  keyNode: Node | null;
  /** How many path segments were matched; equals `path.length` when the whole path exists. */
  depth: number;
}

export interface Position {
  line: number;
  column: number;
}

/** Write a zod path as `steps[2].retry.attempts`; keys that are not plain words are quoted. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else {
      const key = String(seg);
      if (/^[A-Za-z_$][\w$-]*$/.test(key)) out += out === "" ? key : `.${key}`;
      else out += `[${JSON.stringify(key)}]`;
    }
  }
  return out;
}

/** Walk `path` through the document as far as it goes. */
export function locate(doc: Document, path: readonly PropertyKey[]): Located {
  let cur: Node | null = resolve(doc, asNode(doc.contents));
  let keyNode: Node | null = null;
  let depth = 0;
  for (const seg of path) {
    if (isMap(cur)) {
      const pair = findPair(doc, cur, String(seg), new Set());
      if (!pair) break;
      keyNode = asNode(pair.key);
      cur = resolve(doc, asNode(pair.value));
    } else if (isSeq(cur) && typeof seg === "number") {
      const item = cur.items[seg];
      if (item === undefined) break;
      keyNode = null;
      cur = resolve(doc, asNode(item));
    } else {
      break;
    }
    depth++;
  }
  return { node: cur, keyNode, depth };
}

/**
 * The 1-based line and column to report for `path`. `onKey` points at the key itself
 * (for an unknown key); otherwise at the value, or at the key when the value is empty.
 */
export function positionOf(
  doc: Document,
  lineCounter: LineCounter,
  path: readonly PropertyKey[],
  onKey = false,
): Position | undefined {
  const found = locate(doc, path);
  const exact = found.depth === path.length;
  const value = startOf(found.node);
  const key = startOf(found.keyNode);
  let offset: number | undefined;
  if (exact && onKey) offset = key ?? value;
  else if (exact) offset = value !== undefined && !isEmpty(found.node) ? value : (key ?? value);
  else offset = value ?? key;
  if (offset === undefined) return undefined;
  const { line, col } = lineCounter.linePos(offset);
  return { line, column: col };
}

/** The scalar value at `path`, when there is one (used to pick a union branch by its discriminator). */
export function scalarAt(doc: Document, path: readonly PropertyKey[]): unknown {
  const found = locate(doc, path);
  if (found.depth !== path.length || !isScalar(found.node)) return undefined;
  return found.node.value;
}

function findPair(doc: Document, map: Node, key: string, seen: Set<Node>): Pair | undefined {
  if (!isMap(map) || seen.has(map)) return undefined;
  seen.add(map);
  for (const pair of map.items) {
    if (!isMergeKey(pair.key) && keyText(pair.key) === key) return pair;
  }
  for (const pair of map.items) {
    if (!isMergeKey(pair.key)) continue;
    const source = resolve(doc, asNode(pair.value));
    const sources = isSeq(source) ? source.items.map((s) => resolve(doc, asNode(s))) : [source];
    for (const s of sources) {
      const found = s ? findPair(doc, s, key, seen) : undefined;
      if (found) return found;
    }
  }
  return undefined;
}

function isMergeKey(key: unknown): boolean {
  return isScalar(key) && (typeof key.value === "symbol" || key.value === "<<");
}

function keyText(key: unknown): string {
  if (isScalar(key)) return String(key.value);
  return String(key);
}

function resolve(doc: Document, node: Node | null): Node | null {
  let cur = node;
  // Bounded: an alias never points to another alias in a well-formed document, but be safe.
  for (let i = 0; i < 8 && isAlias(cur); i++) cur = asNode(cur.resolve(doc) ?? null);
  return cur;
}

function asNode(value: unknown): Node | null {
  return isNode(value) ? value : null;
}

function startOf(node: Node | null): number | undefined {
  const range = node?.range;
  return range ? range[0] : undefined;
}

function isEmpty(node: Node | null): boolean {
  const range = node?.range;
  return !range || (isScalar(node) && node.value === null && range[0] === range[1]);
}
