/**
 * Core, engine and steps read time only from the Clock port and randomness only from the Random
 * port (DESIGN.md "Time and randomness"). dependency-cruiser checks imports; this checks calls.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "./support/cli.js";

const FORBIDDEN: [RegExp, string][] = [
  [/\bDate\.now\s*\(/, "Date.now()"],
  [/new Date\(\s*\)/, "new Date()"],
  [/\bMath\.random\s*\(/, "Math.random()"],
  [/\bsetTimeout\s*\(/, "setTimeout"],
  [/\bsetInterval\s*\(/, "setInterval"],
  [/\bsetImmediate\s*\(/, "setImmediate"],
  [/\bperformance\.now\s*\(/, "performance.now()"],
  [/\bprocess\./, "process"],
];

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) return files(p);
    return p.endsWith(".ts") && !p.endsWith(".test.ts") ? [p] : [];
  });
}

describe("purity of core, engine and steps", () => {
  const sources = ["src/core", "src/engine", "src/steps"].flatMap((d) => files(join(ROOT, d)));
  it("finds the sources", () => expect(sources.length).toBeGreaterThan(20));
  it.each(sources.map((f) => [f.slice(ROOT.length)]))(
    "%s reads no clock, timer or unseeded randomness",
    (f) => {
      const text = readFileSync(join(ROOT, f), "utf8")
        .replace(/\/\*[\s\S]*?\*\//g, "")
        .replace(/\/\/.*$/gm, "");
      for (const [re, what] of FORBIDDEN) expect(re.test(text), `${f} uses ${what}`).toBe(false);
    },
  );
});
