import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { terminalSafe, visible } from "./visible.js";

describe("visible", () => {
  it("shows control characters as \\uXXXX and keeps tab, newline and ordinary text", () => {
    expect(visible("a\u001b]0;t\u0007b")).toBe(String.raw`a\u001b]0;t\u0007b`);
    expect(visible("x\r\u007f\u009b\u202eexe.txt")).toBe(String.raw`x\u000d\u007f\u009b\u202eexe.txt`);
    expect(visible("é ü 日本 🚀\tcol\nnext")).toBe("é ü 日本 🚀\tcol\nnext");
  });

  it("leaves JSON text meaning what it meant (its escapes are JSON's own)", () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.string({ unit: "binary" }), (v, s) => {
        const doc = { v, s };
        expect(JSON.parse(visible(JSON.stringify(doc)))).toEqual(JSON.parse(JSON.stringify(doc)));
      }),
    );
  });
});

describe("terminalSafe", () => {
  it("lets Overhaul's colours and the live display's redraw through", () => {
    const own = "\u001b[31mfailed\u001b[39m \u001b[1;2mx\u001b[22m\n\u001b[3A\u001b[J";
    expect(terminalSafe(own)).toBe(own);
  });

  it("escapes every other sequence: title, clipboard, clear screen, cursor moves, carriage return", () => {
    for (const bad of [
      "\u001b]0;PWNED\u0007",
      "\u001b]52;c;ZXZpbA==\u0007",
      "\u001b[2J",
      "\u001b[H",
      "\u001b[10;5H",
      "\u001b[3B",
      "a\rb",
      "\u009b2J",
    ])
      expect(terminalSafe(bad)).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
  });
});
