/**
 * Read one YAML document that must be a mapping, keeping the parsed tree for error locations.
 *
 * Invariants:
 * - Bad input of any kind (syntax errors, duplicate keys, unresolved tags, several documents,
 *   an empty file, a scalar or list at the top, binary junk, an alias bomb, absurd nesting)
 *   ends in one `InputError` listing every problem found, each with line and column when known.
 *   Nothing else is thrown for bad input.
 * - Warnings count as problems: a tag we do not understand would otherwise be read silently as
 *   something else, and nothing is adjusted silently.
 * - Alias expansion is capped (`maxAliasCount`), so a few lines cannot expand to gigabytes.
 * - What plain data cannot hold is refused, not coerced: a list or mapping used as a key, an
 *   alias to an anchor that is not defined before it.
 */
import { type Document, isCollection, isMap, isScalar, isSeq, LineCounter, parseDocument, visit } from "yaml";
import { InputError, type Problem } from "../errors.js";
import { finishProblems, yamlErrorsToProblems } from "./yaml-problems.js";
import { describeValue } from "./zod-messages.js";

export const MAX_ALIAS_COUNT = 100;

export interface YamlSource {
  file: string;
  doc: Document;
  lineCounter: LineCounter;
  /** The document as plain data (a mapping). */
  value: Record<string, unknown>;
}

export interface ReadOptions {
  /** What the file is, for messages: "plan", "inventory". */
  what: string;
  /** What the top level should be, for messages: "a mapping with name, hosts and steps". */
  expected: string;
}

export function readYamlMapping(text: string, file: string, options: ReadOptions): YamlSource {
  if (typeof text !== "string") {
    throw new InputError({ file, message: `the ${options.what} is not text`, expected: options.expected });
  }
  const lineCounter = new LineCounter();
  let doc: Document;
  try {
    doc = parseDocument(text, {
      lineCounter,
      prettyErrors: false,
      uniqueKeys: true,
      merge: true,
      strict: true,
      logLevel: "error",
    });
  } catch (cause) {
    throw unreadable(file, options, cause);
  }
  const problems = yamlErrorsToProblems([...doc.errors, ...doc.warnings], text, lineCounter, file);
  if (problems.length > 0) throw new InputError(finishProblems(problems));

  const top = doc.contents;
  if (top === null || (isScalar(top) && top.value === null)) {
    throw new InputError({ file, message: `the ${options.what} is empty`, expected: options.expected });
  }
  if (!isMap(top)) {
    const what = isSeq(top) ? "a list" : isScalar(top) ? describeValue(top.value) : "something else";
    const at = top.range ? lineCounter.linePos(top.range[0]) : undefined;
    const p: Problem = {
      file,
      message: `the ${options.what} must be a mapping of keys to values, but it is ${what}`,
      expected: options.expected,
    };
    if (at) {
      p.line = at.line;
      p.column = at.col;
    }
    throw new InputError(p);
  }

  const structural = structuralProblems(doc, lineCounter, file);
  if (structural.length > 0) throw new InputError(finishProblems(structural));

  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (cause) {
    throw unreadable(file, options, cause);
  }
  return { file, doc, lineCounter, value: value as Record<string, unknown> };
}

/**
 * What the parser accepts but plain data cannot hold: an alias whose anchor is defined later
 * or not at all, and a key that is a list or mapping (it would be silently stringified).
 */
function structuralProblems(doc: Document, lineCounter: LineCounter, file: string): Problem[] {
  const problems: Problem[] = [];
  const at = (node: { range?: readonly number[] | null | undefined }, message: string) => {
    const p: Problem = { file, message };
    const offset = node.range?.[0];
    if (offset !== undefined) {
      const pos = lineCounter.linePos(offset);
      p.line = pos.line;
      p.column = pos.col;
    }
    problems.push(p);
  };
  visit(doc, {
    Alias(_, node) {
      if (node.resolve(doc) === undefined) {
        at(node, `alias *${node.source} refers to no anchor &${node.source} defined before it`);
      }
    },
    Pair(_, pair) {
      if (isCollection(pair.key)) at(pair.key, "a key must be a plain value, not a list or mapping");
    },
  });
  return problems;
}

function unreadable(file: string, options: ReadOptions, cause: unknown): InputError {
  const text = cause instanceof Error ? cause.message : String(cause);
  const message =
    cause instanceof RangeError && /call stack/i.test(text)
      ? `the ${options.what} is nested too deeply to read`
      : /excessive alias/i.test(text)
        ? `the ${options.what} expands too many aliases (*name); at most ${MAX_ALIAS_COUNT} expansions are allowed`
        : `the ${options.what} could not be read as YAML: ${text}`;
  return new InputError({ file, message }, { cause });
}
