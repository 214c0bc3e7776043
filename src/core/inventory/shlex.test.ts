/**
 * Host-line splitting: the expected tokens are Python's `shlex.split(line, comments=True)`.
 */
import { describe, expect, it } from "vitest";
import { ShlexError, shlexSplit } from "./shlex.js";

// Expected tokens match Python's shlex.split(line, comments=True).
const CASES: [string, string[]][] = [
  ["host a=1 b=2", ["host", "a=1", "b=2"]],
  ["  host\t a=1  ", ["host", "a=1"]],
  [`host x="hello world"`, ["host", "x=hello world"]],
  [`host x="'42'"`, ["host", "x='42'"]],
  [`host x='"q"'`, ["host", 'x="q"']],
  [`host pw=ab#cd rest=1`, ["host", "pw=ab"]],
  [`host # comment`, ["host"]],
  [`host x="a#b"`, ["host", "x=a#b"]],
  [`host x=a\\ b`, ["host", "x=a b"]],
  [`host x="a\\"b\\\\c\\d"`, ["host", 'x=a"b\\c\\d']],
  [`host x='a\\b'`, ["host", "x=a\\b"]],
  [`host x=""`, ["host", "x="]],
  [`"" a=1`, ["", "a=1"]],
  [`a"b c"d`, ["ab cd"]],
];

describe("shlexSplit", () => {
  it.each(CASES)("%s", (line, tokens) => {
    expect(shlexSplit(line).map((t) => t.value)).toEqual(tokens);
  });
  it("reports token offsets", () => {
    expect(shlexSplit("  web1  a=1").map((t) => t.offset)).toEqual([2, 8]);
  });
  it.each([
    [`host x="open`, "No closing quotation", 7],
    [`host x=a\\`, "No escaped character", 8],
  ])("%s fails", (line, message, offset) => {
    let err: unknown;
    try {
      shlexSplit(line);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ShlexError);
    expect((err as ShlexError).message).toBe(message);
    expect((err as ShlexError).offset).toBe(offset);
  });
});
