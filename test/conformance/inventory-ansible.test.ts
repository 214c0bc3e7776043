/**
 * Conformance: Overhaul reads inventories exactly as `ansible-inventory -i PATH --list` does.
 *
 * Every directory under test/fixtures/inventories/ is one inventory; its entry is the first of
 * ENTRY_NAMES that exists (a file, or a directory for directory inventories). For each, the real
 * `ansible-inventory` output (JSON.parse'd) must deep-equal `toAnsibleListJson`, and the key order
 * must match too. Ansible is slow to start (~1 s), so all invocations run concurrently up front.
 *
 * The bad inventories under test/fixtures/bad-inventories/ must each fail with an InputError that
 * names the file and line; where Ansible also rejects them, that is checked as well.
 *
 * Without `ansible-inventory` the Ansible comparisons are skipped with a reason, except under
 * CI=true, where they fail: CI must prove conformance.
 */
import { existsSync, readdirSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadInventory } from "../../src/adapters/inventory-files/index.js";
import { InputError } from "../../src/core/errors.js";
import { toAnsibleListJson, toFleetHosts } from "../../src/core/inventory/index.js";
import { type AnsibleResult, AnsibleSandbox, ansibleVersion } from "./ansible-runner.js";

const ROOT = fileURLToPath(new URL("../fixtures/", import.meta.url));
const GOOD = join(ROOT, "inventories");
const BAD = join(ROOT, "bad-inventories");
const ENTRY_NAMES = [
  "inventory",
  "inventory.ini",
  "inventory.yml",
  "inventory.yaml",
  "inventory.json",
  "hosts",
  "hosts.yml",
];

function entryOf(dir: string): string {
  const name = ENTRY_NAMES.find((n) => existsSync(join(dir, n)));
  if (!name) throw new Error(`fixture ${dir} has none of ${ENTRY_NAMES.join(", ")}`);
  return join(dir, name);
}

const fixtures = readdirSync(GOOD, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort()
  .map((name) => ({ name, entry: entryOf(join(GOOD, name)) }));

const version = ansibleVersion();
const inCi = process.env.CI === "true";
const MISSING = "ansible-inventory is not installed (apt-get install ansible-core)";

interface BadCase {
  name: string;
  /** Path of the file the error must name, relative to the fixture directory. */
  file: string;
  line: number;
  message: RegExp;
  /** `load`: loadInventory fails; `fleet`: loading works, toFleetHosts fails. */
  stage: "load" | "fleet";
  /** Whether ansible-inventory refuses it too (false: valid for Ansible, invalid for Overhaul). */
  ansibleRejects: boolean;
}

const BAD_CASES: BadCase[] = [
  {
    name: "cycle-ini",
    file: "inventory.ini",
    line: 8,
    message: /cycle: a -> b -> c -> a/,
    stage: "load",
    ansibleRejects: true,
  },
  {
    name: "cycle-yaml",
    file: "inventory.yml",
    line: 5,
    message: /cycle: middle -> inner -> outer -> middle/,
    stage: "load",
    ansibleRejects: true,
  },
  {
    name: "ini-unclosed-quote",
    file: "inventory.ini",
    line: 2,
    message: /no closing quotation/,
    stage: "load",
    ansibleRejects: true,
  },
  {
    name: "ini-unknown-section",
    file: "inventory.ini",
    line: 4,
    message: /unknown type "childrens"/,
    stage: "load",
    ansibleRejects: true,
  },
  {
    name: "ini-undeclared-child",
    file: "inventory.ini",
    line: 2,
    message: /"missing_child", which is never declared/,
    stage: "load",
    ansibleRejects: true,
  },
  {
    name: "ini-vars-undeclared",
    file: "inventory.ini",
    line: 4,
    message: /\[ghost:vars\].*never declared/,
    stage: "load",
    ansibleRejects: true,
  },
  {
    name: "ini-missing-equals",
    file: "inventory.ini",
    line: 2,
    message: /expected key=value.*"novalue"/,
    stage: "load",
    ansibleRejects: true,
  },
  {
    name: "ini-host-colon",
    file: "inventory.ini",
    line: 3,
    message: /ends in ":"/,
    stage: "load",
    ansibleRejects: true,
  },
  {
    name: "range-unequal-width",
    file: "inventory.ini",
    line: 2,
    message: /equal-length/,
    stage: "load",
    ansibleRejects: true,
  },
  {
    name: "range-bad-letters",
    file: "inventory.yml",
    line: 3,
    message: /bad host range/,
    stage: "load",
    ansibleRejects: true,
  },
  {
    name: "range-step-zero",
    file: "hosts",
    line: 2,
    message: /step must not be zero/,
    stage: "load",
    ansibleRejects: true,
  },
  {
    name: "yaml-syntax",
    file: "inventory.yml",
    line: 5,
    message: /^YAML: /,
    stage: "load",
    ansibleRejects: true,
  },
  {
    name: "yaml-hosts-list",
    file: "inventory.yml",
    line: 5,
    message: /must be a mapping/,
    stage: "load",
    ansibleRejects: true,
  },
  {
    name: "yaml-numeric-host",
    file: "inventory.yml",
    line: 3,
    message: /must be a string/,
    stage: "load",
    ansibleRejects: true,
  },
  {
    name: "yaml-host-vars-list",
    file: "inventory.yml",
    line: 3,
    message: /must be a mapping/,
    stage: "load",
    ansibleRejects: true,
  },
  {
    name: "group-vars-syntax",
    file: "group_vars/web.yml",
    line: 3,
    message: /^YAML: /,
    stage: "load",
    ansibleRejects: true,
  },
  {
    // Ansible warns and keeps the second web only, dropping web01 and web02.
    name: "yaml-duplicate-group",
    file: "inventory.yml",
    line: 10,
    message: /key "web" appears twice in this mapping \(first at .*inventory\.yml:3:5\)/,
    stage: "load",
    ansibleRejects: false,
  },
  {
    name: "group-vars-duplicate",
    file: "group_vars/web.yml",
    line: 3,
    message: /key "ntp" appears twice/,
    stage: "load",
    ansibleRejects: false,
  },
  {
    name: "yaml-plugin-config",
    file: "inventory.yml",
    line: 1,
    message: /plugin configuration/,
    stage: "load",
    ansibleRejects: false,
  },
  {
    name: "role-unknown",
    file: "inventory.ini",
    line: 3,
    message: /overhaul_role "leader" is not a role/,
    stage: "fleet",
    ansibleRejects: false,
  },
  {
    name: "role-unknown-yaml",
    file: "inventory.yml",
    line: 5,
    message: /overhaul_role "controller" is not a role/,
    stage: "fleet",
    ansibleRejects: false,
  },
  {
    name: "capacity-partial",
    file: "inventory.ini",
    line: 2,
    message: /overhaul_disk_gb is not/,
    stage: "fleet",
    ansibleRejects: false,
  },
];

async function errorOf(c: BadCase, entry: string): Promise<unknown> {
  try {
    const inv = await loadInventory(entry);
    if (c.stage === "fleet") toFleetHosts(inv);
  } catch (e) {
    return e;
  }
  return undefined;
}

describe("bad inventories are InputErrors naming file and line", () => {
  it("covers every bad fixture", () => {
    const dirs = readdirSync(BAD).sort();
    expect(BAD_CASES.map((c) => c.name).sort()).toEqual(dirs);
  });
  it.each(BAD_CASES)("$name", async (c) => {
    const dir = join(BAD, c.name);
    const entry = entryOf(dir);
    if (c.stage === "fleet") await expect(loadInventory(entry)).resolves.toBeDefined();
    const err = await errorOf(c, entry);
    expect(err).toBeInstanceOf(InputError);
    const p = (err as InputError).problems[0];
    expect(p?.file && relative(dir, p.file)).toBe(c.file);
    expect(p?.line).toBe(c.line);
    expect(p?.message).toMatch(c.message);
    expect((err as InputError).message).not.toMatch(/\n\s+at /);
  });
});

describe.skipIf(!version && !inCi)(`ansible-inventory --list conformance (${version ?? MISSING})`, () => {
  const results = new Map<string, Promise<AnsibleResult>>();
  let sandbox: AnsibleSandbox | undefined;

  beforeAll(() => {
    if (!version) throw new Error(`${MISSING}; CI=true requires it`);
    const box = new AnsibleSandbox();
    sandbox = box;
    for (const f of fixtures) results.set(`good:${f.name}`, box.list(f.entry));
    for (const c of BAD_CASES) results.set(`bad:${c.name}`, box.list(entryOf(join(BAD, c.name))));
  });
  afterAll(async () => {
    await Promise.allSettled(results.values());
    sandbox?.dispose();
  });

  it("has at least 14 varied inventories", () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(14);
  });

  it.each(fixtures)("$name matches ansible-inventory", async ({ name, entry }) => {
    const ansible = await (results.get(`good:${name}`) as Promise<AnsibleResult>);
    expect(ansible.stderr.match(/ERROR!.*|Failed to parse.*/)?.[0] ?? "").toBe("");
    expect(ansible.code).toBe(0);
    const expected = JSON.parse(ansible.stdout) as unknown;
    const ours = toAnsibleListJson(await loadInventory(entry));
    expect(ours).toEqual(expected);
    // Same key order too (JSON.parse keeps it; floats like 1.0 print the same in both).
    expect(JSON.stringify(ours, null, 4)).toBe(JSON.stringify(expected, null, 4));
  });

  it.each(BAD_CASES.filter((c) => c.ansibleRejects))("ansible-inventory also rejects $name", async (c) => {
    const ansible = await (results.get(`bad:${c.name}`) as Promise<AnsibleResult>);
    expect(ansible.code).not.toBe(0);
  });
});
