import { describe, expect, it } from "vitest";
import { parseCsv } from "./csv.js";

const cells = (text: string) => parseCsv(text).map((r) => r.cells);

describe("parseCsv: RFC 4180 records", () => {
  it.each([
    [
      "plain cells",
      "a,b,c\n1,2,3\n",
      [
        ["a", "b", "c"],
        ["1", "2", "3"],
      ],
    ],
    [
      "every cell quoted (Grafana's export)",
      '"a","b"\r\n"1","2"\r\n',
      [
        ["a", "b"],
        ["1", "2"],
      ],
    ],
    ["a comma and a doubled quote inside quotes", '"x,y","say ""hi"""\n', [["x,y", 'say "hi"']]],
    ["a line break inside quotes", '"two\nlines",b\n', [["two\nlines", "b"]]],
    ["spaces around a quoted cell are dropped, around an unquoted one kept", ' "a" , b \n', [["a", " b "]]],
    ["no newline at the end", "a,b", [["a", "b"]]],
    ["empty cells, quoted or not", ',"",x\n', [["", "", "x"]]],
  ])("%s", (_name, text, expected) => {
    expect(cells(text)).toEqual(expected);
    expect(parseCsv(text).every((r) => r.error === undefined)).toBe(true);
  });

  it("keeps the line each record starts on, past quoted line breaks and blank lines", () => {
    const rs = parseCsv('h\n"a\nb"\n\nc\n');
    expect(rs.map((r) => [r.line, r.blank])).toEqual([
      [1, false],
      [2, false],
      [4, true],
      [5, false],
    ]);
  });

  it.each([
    ["a quote inside an unquoted field", 'ab"c,d\n', "a quote inside an unquoted field"],
    ["text after a closing quote", '"ab"c,d\n', "text after the closing quote of a field"],
    ["a quote that never closes", 'x\n"ab,c\nd\n', "a quoted field that never closes"],
  ])("reports %s on its record, never guesses", (_name, text, error) => {
    const bad = parseCsv(text).filter((r) => r.error !== undefined);
    expect(bad.map((r) => r.error)).toEqual([error]);
  });
});
