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
function failing(op: "writeFile" | "rename" | "link", n: number): ReportFs {
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
    link: async (a, b) => {
      if (op === "link" && ++calls === n) throw enospc();
      await fsp.link(a, b);
    },
    copyFile: (a, b) => fsp.copyFile(a, b),
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
    ["keeping the first old file fails", failing("link", 1)],
    ["keeping the third old file fails, after two are replaced", failing("link", 3)],
    // Renames: json in, md in (no old md), html in <- fails.
    ["moving the third new file in place fails, after two are replaced", failing("rename", 3)],
    ["moving the last new file in place fails", failing("rename", 4)],
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

describe("writeFileSet: a report file that existed is never missing", () => {
  /** The real file system, checking before and after every operation that `names` all exist. */
  function watching(names: readonly string[], seen: string[]): ReportFs {
    const check = async (when: string) => {
      for (const n of names)
        await fsp.lstat(join(dir, n)).catch(() => {
          seen.push(`${n} missing ${when}`);
        });
    };
    const op =
      <A extends unknown[], R>(name: string, f: (...a: A) => Promise<R>) =>
      async (...a: A): Promise<R> => {
        await check(`before ${name}`);
        const r = await f(...a);
        await check(`after ${name}`);
        return r;
      };
    return {
      mkdir: (p, o) => fsp.mkdir(p, o),
      stat: (p) => fsp.stat(p),
      lstat: (p) => fsp.lstat(p),
      rm: op("rm", (p: string, o: { force: true }) => fsp.rm(p, o)),
      writeFile: op("writeFile", (p: string, t: string) => fsp.writeFile(p, t)),
      rename: op("rename", (a: string, b: string) => fsp.rename(a, b)),
      link: op("link", (a: string, b: string) => fsp.link(a, b)),
      copyFile: op("copyFile", (a: string, b: string) => fsp.copyFile(a, b)),
    };
  }

  it("while it is replaced, and while a failed replacement is undone", async () => {
    const names = ["report.json", "report.html"];
    for (const n of names) writeFileSync(join(dir, n), `old ${n}`);
    const seen: string[] = [];
    await writeFileSet({ flag: "-o", dir }, NEW, watching(names, seen));
    expect(contents()).toEqual(Object.fromEntries(NEW));
    for (const n of names) writeFileSync(join(dir, n), `old ${n}`);
    for (const extra of NEW.map(([n]) => n).filter((n) => !names.includes(n))) rmSync(join(dir, extra));
    const broken = watching(names, seen);
    let renames = 0;
    const rename = broken.rename;
    broken.rename = async (a, b) => {
      // The third new file's move in place fails: the two before it are undone.
      if (++renames === 3) throw Object.assign(new Error("ENOSPC"), { code: "ENOSPC" });
      await rename(a, b);
    };
    await expect(writeFileSet({ flag: "-o", dir }, NEW, broken)).rejects.toBeInstanceOf(InputError);
    expect(contents()).toEqual(Object.fromEntries(names.map((n) => [n, `old ${n}`])));
    expect(seen).toEqual([]);
  });

  it("on a file system without hard links, the old file is kept as a copy", async () => {
    writeFileSync(join(dir, "report.json"), "old json");
    const noLinks: ReportFs = {
      ...failing("writeFile", 0),
      link: async () => {
        throw Object.assign(new Error("EPERM: operation not permitted, link"), { code: "EPERM" });
      },
    };
    await writeFileSet({ flag: "-o", dir }, NEW, noLinks);
    expect(contents()).toEqual(Object.fromEntries(NEW));
  });
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
