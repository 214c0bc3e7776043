/**
 * The inventory-files adapter on a real file system: what it reads, what it skips, and that every
 * bad input is an InputError naming the file (never a raw fs error).
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { isIgnoredInDirectory, loadInventory } from "../../src/adapters/inventory-files/index.js";
import { InputError } from "../../src/core/errors.js";

const root = mkdtempSync(join(tmpdir(), "overhaul-inv-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function tree(name: string, files: Record<string, string | Uint8Array>): string {
  const dir = join(root, name);
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(join(dir, rel, ".."), { recursive: true });
    writeFileSync(join(dir, rel), content);
  }
  return dir;
}

async function failure(path: string): Promise<InputError> {
  try {
    await loadInventory(path);
  } catch (e) {
    if (e instanceof InputError) return e;
    throw e;
  }
  throw new Error("expected an InputError");
}

describe("loadInventory", () => {
  it.each([
    ["hosts.ini", true],
    ["notes.txt", true],
    ["x~", true],
    [".hidden", true],
    ["group_vars", true],
    ["hosts", false],
    ["hosts.yml", false],
    ["hosts.ini.d", false],
  ])("ignores %s in a directory: %s", (name, ignored) => {
    expect(isIgnoredInDirectory(name)).toBe(ignored);
  });

  it("reports a missing inventory as an InputError", async () => {
    const err = await failure(join(root, "nope"));
    expect(err.problems[0]?.file).toBe(join(root, "nope"));
  });

  it("names the file inside a directory inventory that cannot be parsed", async () => {
    const dir = tree("dir-bad", { "a.yml": "g:\n  hosts:\n    h1:\n", b: "[g]\nh2 oops\n" });
    const err = await failure(dir);
    expect(err.problems[0]).toMatchObject({ file: join(dir, "b"), line: 2 });
  });

  it("tolerates non-UTF-8 bytes on comment lines only", async () => {
    const ok = tree("latin1-comment", {
      hosts: Uint8Array.from([...Buffer.from("# caf"), 0xe9, ...Buffer.from("\n[g]\nh1\n")]),
    });
    const inv = await loadInventory(join(ok, "hosts"));
    expect(inv.groups.get("g")?.hosts).toEqual(["h1"]);
    const bad = tree("latin1-host", { hosts: Uint8Array.from([...Buffer.from("[g]\nh"), 0xe9, 0x0a]) });
    const err = await failure(join(bad, "hosts"));
    expect(err.problems[0]).toMatchObject({ file: join(bad, "hosts"), line: 2 });
  });

  it("tolerates them on indented INI comment lines too, as Ansible does", async () => {
    const latin1 = (text: string) => Uint8Array.from([...Buffer.from(text, "latin1")]);
    const dir = tree("latin1-indented", {
      "x.ini": latin1("[web]\nw1\n  # caf\xe9\n\t; caf\xe9\nw2\n"),
      hosts: latin1("[web]\nw1\n  # caf\xe9\n"),
    });
    expect((await loadInventory(join(dir, "x.ini"))).groups.get("web")?.hosts).toEqual(["w1", "w2"]);
    expect((await loadInventory(join(dir, "hosts"))).groups.get("web")?.hosts).toEqual(["w1"]);
  });

  it.each([
    // Ansible's YAML plugin and its vars loader fail on any byte that is not UTF-8; blanking the
    // line would also silently change a block scalar (motd below).
    ["c.yml", "all:\n  hosts:\n    h1:\n  # caf\xe9\n", "c.yml", 4],
    ["b.yml", "all:\n  hosts:\n    h1:\n      motd: |\n        # caf\xe9\n", "b.yml", 5],
    ["hosts", "all:\n  hosts:\n    h1:\n# caf\xe9\n", "hosts", 4],
    ["g.ini", "[g]\nh\n", "group_vars/g.yml", 2],
  ])("refuses such bytes outside INI: %s", async (name, text, file, line) => {
    const latin1 = (t: string) => Uint8Array.from([...Buffer.from(t, "latin1")]);
    const dir = tree(`latin1-yaml-${name}`, {
      [name]: latin1(text),
      "group_vars/g.yml": latin1("a: 1\n  # caf\xe9\n"),
    });
    const err = await failure(join(dir, name));
    expect(err.problems[0]).toMatchObject({
      file: join(dir, file),
      line,
      message: "the line is not valid UTF-8",
    });
  });

  it("warns when group_vars is a file, and uses only the first of NAME, NAME.yml, NAME.yaml, NAME.json", async () => {
    const dir = tree("vars-choice", {
      "inventory.ini": "[g]\nh\n",
      group_vars: "not a directory",
      "host_vars/h.yml": "pick: yml\n",
      "host_vars/h.json": '{"pick": "json", "json_only": 1}',
    });
    const inv = await loadInventory(join(dir, "inventory.ini"));
    expect(inv.hosts.get("h")?.vars).toEqual({ pick: "yml" });
    expect(inv.warnings.map((w) => w.message)).toEqual(["is not a directory; skipped"]);
  });

  it("refuses an alias bomb in a group_vars file, naming it, instead of expanding it for minutes", async () => {
    const levels = [1, 2, 3, 4, 5].map(
      (i) =>
        `l${i}: &l${i} [${Array(10)
          .fill(`*l${i - 1}`)
          .join(", ")}]`,
    );
    const dir = tree("vars-bomb", {
      "inventory.ini": "[g]\nh\n",
      "group_vars/g.yml": `l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n${levels.join("\n")}\n`,
    });
    const err = await failure(join(dir, "inventory.ini"));
    expect(err.problems[0]).toMatchObject({ file: join(dir, "group_vars", "g.yml"), line: 6 });
    expect(err.problems[0]?.message).toMatch(/expands too many aliases/);
  });

  it("stops at a symbolic link back into the inventory directory, naming it (not ELOOP 40 levels down)", async () => {
    const dir = tree("dir-loop", { hosts: "[web]\nw1\n" });
    symlinkSync(".", join(dir, "loop"));
    const err = await failure(dir);
    expect(err.problems[0]).toMatchObject({
      file: join(dir, "loop"),
      message: `this directory is ${dir} again: a symbolic link loop`,
    });
  });

  it("refuses two links to one directory of the inventory, naming the first", async () => {
    const dir = tree("dir-twice", { "a/hosts": "[web]\nw1\n" });
    symlinkSync("a", join(dir, "b"));
    const err = await failure(dir);
    expect(err.problems[0]?.file).toBe(join(dir, "b"));
    expect(err.problems[0]?.message).toMatch(
      /already read as .*dir-twice\/a( \(both are .*\))?: two paths lead to it/,
    );
  });

  it("stops at a symbolic link loop inside a group_vars folder, but lets two groups share one folder", async () => {
    const dir = tree("vars-loop", {
      "inventory.ini": "[web]\nw1\n[db]\nd1\n",
      "group_vars/web/a.yml": "a: 1\n",
    });
    symlinkSync("web", join(dir, "group_vars", "db"));
    expect((await loadInventory(join(dir, "inventory.ini"))).hosts.get("d1")?.vars).toEqual({ a: 1 });
    symlinkSync(".", join(dir, "group_vars", "web", "loop"));
    const err = await failure(join(dir, "inventory.ini"));
    expect(err.problems[0]).toMatchObject({ file: join(dir, "group_vars", "web", "loop") });
    expect(err.problems[0]?.message).toMatch(/symbolic link loop/);
  });

  it("names the vars file with the syntax error", async () => {
    const dir = tree("vars-bad", {
      "inventory.ini": "[g]\nh\n",
      "host_vars/h/b.yml": "x: 1\n",
      "host_vars/h/c.yml": "y: [\n",
    });
    const err = await failure(join(dir, "inventory.ini"));
    expect(err.problems[0]?.file).toBe(join(dir, "host_vars", "h", "c.yml"));
  });
});
