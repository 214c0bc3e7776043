/**
 * Report files are written as one set: a failure at any point (writing a new file, moving one in
 * place) leaves the directory exactly as it was, without temporary files; bad targets are refused
 * before any work.
 */

import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as fsp from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { InputError } from "../core/errors.js";
import { prepareReportDir, type ReportFs, removeCreated, writeFileSet } from "./report-files.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "overhaul-report-files-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const NEW: [string, string][] = [
  ["report.json", "new json"],
  ["report.md", "new md"],
  ["report.html", "new html"],
  ["report.txt", "new txt"],
];

/** The directory's files and their contents. */
function contents(d = dir): Record<string, string> {
  return Object.fromEntries(readdirSync(d).map((f) => [f, readFileSync(join(d, f), "utf8")]));
}

/** The real file system, with the `n`-th call of `op` (1-based) failing like a full disk. */
function failing(op: "writeFile" | "rename", n: number): ReportFs {
  let calls = 0;
  const enospc = () => Object.assign(new Error("ENOSPC: no space left on device"), { code: "ENOSPC" });
  return {
    mkdir: (p, o) => fsp.mkdir(p, o),
    stat: (p) => fsp.stat(p),
    lstat: (p) => fsp.lstat(p),
    rm: (p, o) => fsp.rm(p, o),
    writeFile: async (p, t) => {
      if (op === "writeFile" && ++calls === n) throw enospc();
      await fsp.writeFile(p, t);
    },
    rename: async (a, b) => {
      if (op === "rename" && ++calls === n) throw enospc();
      await fsp.rename(a, b);
    },
  };
}

describe("writeFileSet", () => {
  it("replaces every file and leaves nothing else behind", async () => {
    writeFileSync(join(dir, "report.json"), "old json");
    const files = await writeFileSet({ flag: "--report", dir }, NEW);
    expect(files).toEqual(NEW.map(([n]) => join(dir, n)));
    expect(contents()).toEqual(Object.fromEntries(NEW));
  });

  // The old set: three of the four files (report.md is new to the directory).
  const OLD = { "report.json": "old json", "report.html": "old html", "report.txt": "old txt" };
  const cases: [string, ReportFs][] = [
    ["writing the third new file fails", failing("writeFile", 3)],
    ["moving the first old file aside fails", failing("rename", 1)],
    // Renames: json aside, json in, md in (no old md), html aside, html in <- fails.
    ["moving the third new file in place fails, after two are replaced", failing("rename", 5)],
    ["moving the last new file in place fails", failing("rename", 7)],
  ];
  for (const [what, fs] of cases) {
    it(`${what}: every old file is back, no new or temporary file is left`, async () => {
      for (const [n, t] of Object.entries(OLD)) writeFileSync(join(dir, n), t);
      const err = await writeFileSet({ flag: "--report", dir }, NEW, fs).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InputError);
      expect((err as InputError).message).toBe(
        `${dir}: --report: cannot write the reports: no space left on the device; none was replaced ` +
          "(expected a directory that can be written, where each report file is a regular file or absent)",
      );
      expect(contents()).toEqual(OLD);
    });
  }
});

describe("prepareReportDir", () => {
  const target = (d: string) => ({ flag: "--report", dir: d });
  const names = NEW.map(([n]) => n);

  it("creates the directory and its parents, and says which it created", async () => {
    const deep = join(dir, "a", "b");
    expect(await prepareReportDir(target(deep), names)).toBe(join(dir, "a"));
    expect(contents(deep)).toEqual({});
    await removeCreated(deep, join(dir, "a"));
    expect(readdirSync(dir)).toEqual([]);
  });

  it("refuses a file, a report name taken by a directory, and (without create) a missing directory", async () => {
    writeFileSync(join(dir, "afile"), "");
    await expect(prepareReportDir(target(join(dir, "afile")), names)).rejects.toThrow(
      `${join(dir, "afile")}: --report: is a file, not a directory`,
    );
    await fsp.mkdir(join(dir, "out", "report.html"), { recursive: true });
    await expect(prepareReportDir(target(join(dir, "out")), names)).rejects.toThrow(
      `${join(dir, "out", "report.html")}: --report: is a directory, so it cannot be replaced`,
    );
    await expect(
      prepareReportDir({ flag: "-o", dir: join(dir, "nope") }, ["r.html"], { create: false }),
    ).rejects.toThrow(`${join(dir, "nope")}: -o: no such directory`);
    expect(readdirSync(dir).sort()).toEqual(["afile", "out"]);
  });
});
