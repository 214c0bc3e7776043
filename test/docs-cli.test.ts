/**
 * docs/cli.md against the command tree itself (the one `--help` prints): every flag of every
 * command is named in that command's section, every flag the page names exists, and every exit
 * code is in the exit-code table. Reads the tree in-process, so it costs milliseconds.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { describe, expect, it } from "vitest";
import { EXIT } from "../src/cli/exit-codes.js";
import { program } from "../src/cli/main.js";
import { ROOT } from "./support/cli.js";

const DOC = readFileSync(join(ROOT, "docs/cli.md"), "utf8");
/** Flags of other programs the page quotes (`ansible-inventory --list`). */
const FOREIGN = new Set(["--list"]);
const SKIP = new Set(["--help", "--version"]);

/** `## ` sections: the heading line and everything up to the next one. */
const sections = DOC.split(/^(?=## )/m).map((s) => ({ heading: s.split("\n")[0] ?? "", text: s }));
const intro = sections[0]?.text ?? "";

function leaves(cmd: Command, path: string[] = []): { path: string; cmd: Command }[] {
  return cmd.commands.flatMap((c) => {
    const p = [...path, c.name()];
    return c.commands.length > 0 ? leaves(c, p) : [{ path: p.join(" "), cmd: c }];
  });
}

/** The section of `overhaul inventory list`, `overhaul pause` (shared with abort), `token list`, ... */
function sectionOf(path: string): string | undefined {
  const at = (h: string, s: string) => h.includes(`${s} `) || h.includes(`${s}\``);
  return sections.find((s) => at(s.heading, `\`overhaul ${path}`) || at(s.heading, `\`${path}`))?.text;
}

function names(text: string, flag: string): boolean {
  const escaped = flag.replace(/[-]/g, "\\-");
  return new RegExp(`(^|[^a-z-])${escaped}(?![a-z-])`).test(text);
}

const root = program(() => {});
const commands = leaves(root).filter((c) => c.path !== "help");

describe("docs/cli.md", () => {
  it("names every global option in its introduction", () => {
    const missing = root.options.map((o) => o.long ?? "").filter((f) => !SKIP.has(f) && !names(intro, f));
    expect(missing).toEqual([]);
  });

  it.each(commands.map((c) => [c.path, c.cmd] as const))(
    "overhaul %s: a section naming every flag",
    (path, cmd) => {
      const text = sectionOf(path);
      expect(text, `no "## \`overhaul ${path} ...\`" section`).toBeDefined();
      const missing = cmd.options
        .filter((o) => !SKIP.has(o.long ?? ""))
        .filter((o) => {
          const { long, short } = o;
          if (long !== undefined && names(text ?? "", long)) return false;
          if (short !== undefined && names(text ?? "", short)) return false;
          return !(long?.startsWith("--ssh-") && text?.includes("`--ssh-*`"));
        })
        .map((o) => o.flags);
      expect(missing).toEqual([]);
    },
  );

  it("names no flag that does not exist", () => {
    const known = new Set(
      [root, ...commands.map((c) => c.cmd)].flatMap((c) => c.options.map((o) => o.long ?? "")),
    );
    const named = new Set(DOC.match(/(?<![\w-])--[a-z][a-z-]*[a-z]/g) ?? []);
    const unknown = [...named].filter((f) => !known.has(f) && !FOREIGN.has(f) && f !== "--ssh");
    expect(unknown).toEqual([]);
  });

  it("lists every exit code", () => {
    const table = sections.find((s) => s.heading === "## Exit codes")?.text ?? "";
    for (const code of [...Object.values(EXIT), 130])
      expect(table, `exit ${code}`).toMatch(new RegExp(`^\\| ${code} `, "m"));
  });
});
