/**
 * INI values: the expected results were produced by Python 3.11's `ast.literal_eval` through Ansible's INI plugin.
 */
import { describe, expect, it } from "vitest";
import { literalEval, parseIniValue, pyFloatRepr } from "./py-literal.js";

// Expected values were checked against Python 3.11's ast.literal_eval via Ansible's INI plugin.
const RAW = Symbol("raw text");
const UNSUPPORTED = Symbol("unsupported");
const CASES: [string, unknown][] = [
  ["42", 42],
  ["-7", -7],
  ["+5", 5],
  ["--1", RAW],
  ["0x1F", 31],
  ["0o17", 15],
  ["0b101", 5],
  ["1_000_000", 1_000_000],
  ["1__0", RAW],
  ["1_", RAW],
  ["0777", RAW],
  ["00", 0],
  ["1.5", 1.5],
  ["1.", 1],
  [".25", 0.25],
  ["2e3", 2000],
  ["1e", RAW],
  ["True", true],
  ["False", false],
  ["None", null],
  ["true", RAW],
  ["yes", RAW],
  ["'42'", "42"],
  ['"x y"', "x y"],
  ["'a' 'b'", "ab"],
  ["'a' b'b'", RAW],
  ["b'bytes'", "bytes"],
  ["r'C:\\dir'", "C:\\dir"],
  ["'tab\\there'", "tab\there"],
  ["'caf\\u00e9'", "café"],
  ["'\\x41\\101'", "AA"],
  ["'\\q'", "\\q"],
  ["f'x'", RAW],
  ["[1, 'two', 3.0]", [1, "two", 3]],
  ["(1, 2)", [1, 2]],
  ["(1,)", [1]],
  ["()", []],
  ["(1)", 1],
  ["1, 2", [1, 2]],
  ["[]", []],
  ["{}", {}],
  ["{'k': 'v', 'n': [1, {'b': None}]}", { k: "v", n: [1, { b: null }] }],
  ["{2: 'two', 1: 'one', True: 'same'}", { "2": "two", "1": "same" }],
  ["{1.5: 'x', None: 'n', False: 'f'}", { "1.5": "x", null: "n", false: "f" }],
  ["5 # comment", 5],
  ["hello # comment", RAW],
  ["hello world", RAW],
  ["", RAW],
  ["  7", 7],
  ["a=b", RAW],
  ["1+2", RAW],
  ["[1,,2]", RAW],
  ["'unclosed", RAW],
  ["-(1)", -1],
  ["-True", RAW],
  ["{1, 2}", UNSUPPORTED],
  ["set()", UNSUPPORTED],
  ["1j", UNSUPPORTED],
  ["1+2j", UNSUPPORTED],
  ["...", UNSUPPORTED],
  ["[b'x']", UNSUPPORTED],
  // Python's tokenizer allows brackets 200 deep; deeper is a syntax error, so the text is kept.
  [`${"[".repeat(200)}${"]".repeat(200)}`, nested(200)],
  [`${"[".repeat(201)}${"]".repeat(201)}`, RAW],
  [`${"(".repeat(5000)}1${")".repeat(5000)}`, RAW],
  // Python gives up on a chain this long (RecursionError); it is never a number, so the text.
  [`${"-".repeat(100_000)}1`, RAW],
];

function nested(depth: number): unknown {
  let v: unknown = [];
  for (let d = 1; d < depth; d++) v = [v];
  return v;
}

describe("parseIniValue (Python literal_eval as Ansible's INI plugin uses it)", () => {
  it.each(
    CASES.map(
      ([text, expected]) =>
        [text.length > 60 ? `${text.slice(0, 40)}… (${text.length} chars)` : text, text, expected] as const,
    ),
  )("%s", (_name, text, expected) => {
    const r = parseIniValue(text);
    if (expected === UNSUPPORTED) {
      expect(r.ok).toBe(false);
      expect(r.ok ? undefined : r.unsupported).toBeTruthy();
    } else if (expected === RAW) {
      expect(r).toEqual({ ok: true, value: text });
      expect(literalEval(text).ok).toBe(false);
    } else {
      expect(r).toEqual({ ok: true, value: expected });
    }
  });
});

describe("pyFloatRepr", () => {
  it.each([
    [1, "1.0"],
    [2.5, "2.5"],
    [1e16, "1e+16"],
    [1e-5, "1e-05"],
    [123456.75, "123456.75"],
    [-0, "-0.0"],
  ])("%s", (v, text) => {
    expect(pyFloatRepr(v)).toBe(text);
  });
});
