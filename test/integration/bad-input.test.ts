/**
 * Bad input never crashes and never does anything: each of these plans, inventories and flags
 * gets exit 2 (or 4 for a safety refusal) and a short error that names the place (file, line,
 * path or flag) — never a stack trace — and no run is created.
 */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../support/cli.js";

const GOOD_INV = `[web]
web[01:03] overhaul_rack=r1

[web:vars]
ansible_connection=local
`;
const GOOD_PLAN = `name: p
hosts: web
steps:
  - { name: a, kind: command, run: "true" }
`;

interface Case {
  name: string;
  /** The plan file's text (bytes: written as they are). */
  plan?: string | Buffer;
  inventory?: string;
  /** Extra files (relative path -> content) next to the inventory. */
  files?: Record<string, string>;
  args?: string[];
  code?: number;
  /** Fragments the error must contain (the place and the problem). */
  expect: (string | RegExp)[];
}

const plan = (body: string) => body;

const CASES: Case[] = [
  {
    name: "YAML syntax error: bad indentation",
    plan: "name: p\nhosts: web\nsteps:\n  - name: a\n   kind: command\n",
    expect: ["plan.yaml:5"],
  },
  {
    name: "YAML syntax error: unclosed flow mapping",
    plan: "name: p\nhosts: web\nsteps: [{ name: a, kind: command\n",
    expect: [/plan\.yaml:\d+:\d+/],
  },
  {
    name: "YAML duplicate key",
    plan: "name: p\nname: q\nhosts: web\nsteps: [{ name: a, kind: sleep, duration: 1s }]\n",
    expect: ["plan.yaml:2", /duplicate|unique/i],
  },
  { name: "plan is a list, not a mapping", plan: "- a\n- b\n", expect: ["plan.yaml", /mapping/i] },
  { name: "empty plan file", plan: "", expect: ["plan.yaml", /empty/i] },
  { name: "missing steps", plan: "name: p\nhosts: web\n", expect: ["steps", /required|missing/i] },
  {
    name: "empty steps",
    plan: "name: p\nhosts: web\nsteps: []\n",
    expect: ["plan.yaml:3", "steps", "at least one step"],
  },
  {
    name: "unknown step kind",
    plan: "name: p\nhosts: web\nsteps:\n  - { name: a, kind: rebot }\n",
    expect: ["plan.yaml:4", "steps[0].kind", "reboot"],
  },
  {
    name: "wrong type: attempts is a string",
    plan: "name: p\nhosts: web\nsteps:\n  - name: a\n    kind: command\n    run: x\n    retry: { attempts: three }\n",
    expect: ["plan.yaml:7", "steps[0].retry.attempts", /number|integer/],
  },
  {
    name: "negative retries",
    plan: "name: p\nhosts: web\nsteps:\n  - name: a\n    kind: command\n    run: x\n    retry: { attempts: -1 }\n",
    expect: ["plan.yaml:7", "steps[0].retry.attempts", "at least 1"],
  },
  {
    name: "bad duration",
    plan: "name: p\nhosts: web\nsteps:\n  - { name: a, kind: sleep, duration: 5 minutes }\n",
    expect: ["plan.yaml:4", "steps[0].duration", "30s"],
  },
  {
    name: "unknown key in a step",
    plan: "name: p\nhosts: web\nsteps:\n  - { name: a, kind: command, run: x, retires: 3 }\n",
    expect: ["plan.yaml:4", "retires"],
  },
  {
    name: "command without run",
    plan: "name: p\nhosts: web\nsteps:\n  - { name: a, kind: command }\n",
    expect: ["steps[0].run"],
  },
  {
    name: "duplicate step names",
    plan: "name: p\nhosts: web\nsteps:\n  - { name: a, kind: sleep, duration: 1s }\n  - { name: a, kind: sleep, duration: 1s }\n",
    expect: ["steps[1].name", "duplicate"],
  },
  {
    name: "empty scope in the plan",
    plan: "name: p\nhosts: ''\nsteps:\n  - { name: a, kind: sleep, duration: 1s }\n",
    expect: ["plan.yaml:2", "hosts"],
  },
  {
    name: "plan scope matches nothing",
    plan: "name: p\nhosts: db\nsteps:\n  - { name: a, kind: sleep, duration: 1s }\n",
    expect: ['plan.yaml:2:8: hosts: pattern part(s) "db" match no host'],
  },
  {
    name: "wave with both count and percent",
    plan: `${GOOD_PLAN}waves: [{ count: 1, percent: 10 }]\n`,
    expect: ["waves[0]", "exactly one"],
  },
  {
    name: "zero global concurrency",
    plan: `${GOOD_PLAN}concurrency: { global: 0 }\n`,
    expect: ["concurrency.global", "at least 1"],
  },
  {
    name: "misspelt failure-domain kind (it would cap nothing)",
    plan: `${GOOD_PLAN}concurrency: { global: 4, perFailureDomain: { racks: 1 } }\n`,
    expect: [
      "plan.yaml:5:47: concurrency.perFailureDomain.racks",
      'unknown key "racks" (did you mean "rack"?)',
      "rack, power, switch",
    ],
  },
  {
    name: "zero step timeout (the step would end in doubt at once)",
    plan: "name: p\nhosts: web\nsteps:\n  - { name: a, kind: command, run: sleep 0.3, timeout: 0s }\n",
    expect: ["plan.yaml:4:56: steps[0].timeout", '"0s" is shorter than 1s', "at least 1s"],
  },
  {
    name: "zero polling interval (the probe would run in a tight loop)",
    plan: "name: p\nhosts: web\nsteps:\n  - { name: up, kind: wait-healthy, run: 'true', interval: 0s }\n",
    expect: ["plan.yaml:4:60: steps[0].interval", '"0s" is shorter than 1s', "at least 1s between probes"],
  },
  {
    name: "percent over 100",
    plan: `${GOOD_PLAN}failureBudget: { maxFailedPercent: 150 }\n`,
    expect: ["failureBudget.maxFailedPercent", "100"],
  },
  {
    name: "gate with neither run nor approval",
    plan: "name: p\nhosts: web\nsteps:\n  - { name: g, kind: gate }\n",
    expect: ["steps[0]", "approval"],
  },
  {
    name: "plan file does not exist",
    plan: undefined,
    args: ["run", "missing.yaml", "-i", "inventory.ini", "--all"],
    expect: ["missing.yaml", "no such file"],
  },
  { name: "empty --limit", args: ["--limit", ""], expect: ["--limit", "empty"] },
  {
    name: "--limit with a stray bracket (Ansible would read ~[ as ~, every host)",
    args: ["--limit", "~["],
    expect: ["--limit", '"~["', "outside a complete [...]"],
  },
  {
    name: "--limit with the removed [x-y] subscript (Ansible reads web[1-2] as positions 1..2, not names)",
    args: ["--limit", "web[1-2]"],
    expect: ["--limit", '"web[1-2]"', "[x-y] subscript", "web[1:2]", "web[1-2]*"],
  },
  {
    // (.*)* takes exponential time on a name that does not match: the run would hang at scoping.
    name: "--limit regex with nested repetition",
    args: ["--limit", "~(.*)*x$"],
    expect: ["--limit", '"~(.*)*x$"', "exponential time"],
  },
  {
    name: "invalid regex in the plan's hosts",
    plan: "name: p\nhosts: '~web('\nsteps:\n  - { name: a, kind: sleep, duration: 1s }\n",
    expect: ["plan.yaml:2:8: hosts:", "invalid regular expression"],
  },
  {
    name: "stray bracket in the plan's hosts",
    plan: "name: p\ndescription: x\nhosts: 'web:~['\nsteps:\n  - { name: a, kind: sleep, duration: 1s }\n",
    expect: ["plan.yaml:3:8: hosts:", 'has a "[" outside a complete'],
  },
  {
    name: "plan's hosts select no host",
    plan: "name: p\nhosts: 'web:!web'\nsteps:\n  - { name: a, kind: sleep, duration: 1s }\n",
    expect: ["plan.yaml:2:8: hosts:", `the plan's hosts ("web:!web") select no host`],
  },
  {
    name: "unknown host in --limit",
    args: ["--limit", "web01:nosuchhost"],
    expect: ["--limit", '"nosuchhost"'],
  },
  {
    name: "--limit matches nothing in the plan's scope",
    inventory: `${GOOD_INV}[db]\ndb01 ansible_connection=local\n`,
    args: ["--limit", "db01"],
    expect: ["--limit", "no host is in both"],
  },
  { name: "no scope at all", args: [], code: 4, expect: ["--limit", "--all"] },
  {
    name: "wide scope without confirmation",
    args: ["--limit", "web", "--max-hosts", "2"],
    code: 4,
    expect: ["3 host(s)", "--confirm 3"],
  },
  {
    name: "wrong --confirm count",
    args: ["--limit", "web", "--max-hosts", "2", "--confirm", "5"],
    code: 4,
    expect: ["--confirm 5 does not match"],
  },
  { name: "bad --lease-ttl", args: ["--all", "--lease-ttl", "soon"], expect: ["--lease-ttl", "soon"] },
  {
    name: "inventory: cyclic children",
    inventory: "[a:children]\nb\n\n[b:children]\na\n",
    expect: ["inventory.ini", /cycl|loop/i],
  },
  { name: "inventory: bad range", inventory: "[web]\nweb[01:]\n", expect: ["inventory.ini:2", /range/] },
  { name: "inventory: range step of zero", inventory: "[web]\nweb[1:3:0]\n", expect: ["inventory.ini:2"] },
  { name: "inventory: INI section typo", inventory: "[web:chidren]\nfoo\n", expect: ["inventory.ini:1"] },
  {
    name: "inventory: YAML syntax error",
    inventory: undefined,
    files: { "inventory.yml": "all:\n  hosts:\n    web01:\n   bad: [\n" },
    args: ["-i", "inventory.yml"],
    expect: ["inventory.yml:"],
  },
  {
    name: "inventory: unknown overhaul_role",
    inventory: "[web]\nweb01 ansible_connection=local overhaul_role=boss\n",
    expect: ["web01", "overhaul_role", "holdover"],
  },
  { name: "inventory file does not exist", args: ["-i", "nope.ini"], expect: ["nope.ini"] },
  {
    name: "inventory: YAML nested deeper than it can be read",
    inventory: undefined,
    files: {
      "inventory.yml": `all:\n  hosts:\n    web01:\n      x: ${"[".repeat(100_000)}${"]".repeat(100_000)}\n`,
    },
    args: ["-i", "inventory.yml"],
    expect: ["inventory.yml:4:", "nested too deeply", "at most 200 levels"],
  },
  {
    // Latin-1 "café" in a comment: read as UTF-8 it would silently become U+FFFD.
    name: "plan that is not UTF-8",
    plan: Buffer.from(
      "name: p\nhosts: web\n# caf\u00e9\nsteps: [{ name: a, kind: command, run: 'true' }]\n",
      "latin1",
    ),
    expect: ["plan.yaml:3", "not valid UTF-8", "UTF-8 text"],
  },
  {
    name: "plan that is a binary file (NUL bytes)",
    plan: "\u007fELF\u0002\u0001\u0001\u0000\u0000\u0000",
    expect: ["plan.yaml:1", "NUL byte", "binary"],
  },
];

describe("bad input: exit 2 (or 4), one clear message naming the place, nothing done", () => {
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), "overhaul-bad-"));
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it("has at least 25 cases", () => expect(CASES.length).toBeGreaterThanOrEqual(25));

  it.concurrent.each(CASES.map((c) => [c.name, c] as const))("%s", async (_name, c) => {
    const dir = join(root, c.name.replace(/[^a-z0-9]+/gi, "-"));
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "plan.yaml"), c.plan ?? GOOD_PLAN);
    if (c.inventory !== undefined || !c.files)
      writeFileSync(join(dir, "inventory.ini"), c.inventory ?? GOOD_INV);
    for (const [f, body] of Object.entries(c.files ?? {})) writeFileSync(join(dir, f), body);
    let args: string[];
    if (c.args?.[0] === "run") args = c.args;
    else {
      const rest = c.args ?? ["--all"];
      const inv = rest.includes("-i") ? [] : ["-i", "inventory.ini"];
      args = ["run", "plan.yaml", ...inv, ...rest];
      if (!rest.includes("--all") && !rest.includes("--limit") && c.args === undefined) args.push("--all");
    }
    const r = await runCli(["--db", join(dir, "db.sqlite"), ...args], {
      cwd: dir,
      env: { OVERHAUL_LOG_DIR: join(dir, "logs") },
    });
    const expected = c.code ?? 2;
    expect(r.code, `stderr: ${r.stderr}`).toBe(expected);
    expect(r.stderr).toMatch(/^overhaul: /);
    expect(r.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/); // no stack trace
    expect(r.stderr).not.toMatch(/internal error/);
    for (const e of c.expect) {
      if (typeof e === "string") expect(r.stderr).toContain(e);
      else expect(r.stderr).toMatch(e);
    }
    expect(r.stdout).toBe("");
    // Nothing done: no run was created (the database may not even exist).
    if (existsSync(join(dir, "db.sqlite"))) {
      const s = await runCli(["--db", join(dir, "db.sqlite"), "status", "--json"], { cwd: dir });
      expect(s.code).toBe(2);
      expect(s.stderr).toContain("no runs");
    }
  });

  it("usage errors (unknown command or flag, missing argument, bad flag value) are exit 2 and start 'overhaul: ' like every other error", async () => {
    const cases: [string[], string][] = [
      [["frobnicate"], "overhaul: unknown command 'frobnicate'"],
      [["run"], "overhaul: missing required argument 'plan'"],
      [["status", "--run", "x"], "overhaul: unknown option '--run'"],
      [["history", "--days", "abc"], "overhaul: option '--days <n>' argument 'abc' is invalid"],
    ];
    for (const [args, first] of cases) {
      const r = await runCli(args, { cwd: root });
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr.startsWith(first), r.stderr).toBe(true);
      expect(r.stderr).toContain("(run with --help for usage)");
      expect(r.stdout).toBe("");
    }
  });

  it("--server on a command that has no remote form is refused (exit 2) before anything is done; OVERHAUL_SERVER is left alone there", async () => {
    const dir = mkdtempSync(join(root, "server-"));
    writeFileSync(join(dir, "plan.yaml"), GOOD_PLAN);
    writeFileSync(join(dir, "inventory.ini"), GOOD_INV);
    const db = join(dir, "db.sqlite");
    const cases: [string, string[]][] = [
      ["validate", ["validate", "plan.yaml"]],
      ["inventory list", ["inventory", "list", "-i", "inventory.ini"]],
      ["plan", ["plan", "plan.yaml", "-i", "inventory.ini"]],
      ["history", ["history", "-i", "inventory.ini"]],
      ["simulate", ["simulate", "plan.yaml", "-i", "inventory.ini", "-q"]],
      ["demo", ["demo", "--fast", "--report", join(dir, "demo")]],
      ["serve", ["serve", "--listen", "127.0.0.1:0"]],
      ["token create", ["token", "create", "--role", "viewer", "--name", "x"]],
      ["token list", ["token", "list"]],
      ["token revoke", ["token", "revoke", "x"]],
    ];
    for (const [name, args] of cases) {
      // The URL is never contacted: nothing listens there, and the refusal comes first.
      const r = await runCli(["--db", db, "--server", "http://127.0.0.1:1", ...args], { cwd: dir });
      expect(r.code, `${name}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(
        new RegExp(`^overhaul: --server: overhaul ${name} does not act on a server: `),
      );
      expect(r.stderr).toContain(
        `(expected overhaul ${name} without --server; only run, resume, status, report, pause, abort, retry, skip take --server)`,
      );
      expect(r.stdout).toBe("");
    }
    // Nothing was written: no database, no demo reports.
    expect(readdirSync(dir).sort()).toEqual(["inventory.ini", "plan.yaml"]);
    // OVERHAUL_SERVER (even one that is no URL) is for the commands that act on a server; the
    // others do what they do without it.
    const v = await runCli(["validate", "plan.yaml"], { cwd: dir, env: { OVERHAUL_SERVER: "nope" } });
    expect(v.code, v.stderr).toBe(0);
  });

  it("a PostgreSQL database that cannot be reached: exit 1 naming host, port and database (never the password), no stack", async () => {
    // A loopback port nothing listens on: bound, then closed.
    const port = await new Promise<number>((resolve, reject) => {
      const srv = createServer();
      srv.once("error", reject);
      srv.listen(0, "127.0.0.1", () => {
        const { port } = srv.address() as AddressInfo;
        srv.close(() => resolve(port));
      });
    });
    const dir = join(root, "postgres-unreachable");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "plan.yaml"), GOOD_PLAN);
    writeFileSync(join(dir, "inventory.ini"), GOOD_INV);
    for (const args of [["status"], ["run", "plan.yaml", "-i", "inventory.ini", "--all"]]) {
      const r = await runCli(["--db", `postgres://ops:hunter2@127.0.0.1:${port}/overhaul`, ...args], {
        cwd: dir,
      });
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toContain(`cannot reach the PostgreSQL database at 127.0.0.1:${port}/overhaul`);
      expect(r.stderr).toContain("ECONNREFUSED");
      expect(r.stderr).not.toContain("hunter2");
      expect(r.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
    }
  });

  it("a --db that cannot be a database (a text file, a directory, a path below a file) is exit 2 naming it, and is left as it was", async () => {
    const dir = join(root, "db-not-a-database");
    mkdirSync(join(dir, "a-directory"), { recursive: true });
    writeFileSync(join(dir, "plan.yaml"), GOOD_PLAN);
    writeFileSync(join(dir, "inventory.ini"), GOOD_INV);
    writeFileSync(join(dir, "notes.txt"), "not a database\n");
    for (const [db, why] of [
      ["notes.txt", "it is not a SQLite database"],
      ["a-directory", "SQLite cannot open it"],
      ["notes.txt/overhaul.db", "a part of its path is a file"],
    ] as const) {
      for (const args of [["status"], ["run", "plan.yaml", "-i", "inventory.ini", "--all"]]) {
        const r = await runCli(["--db", db, ...args], {
          cwd: dir,
          env: { OVERHAUL_LOG_DIR: join(dir, "logs") },
        });
        expect(r.code, r.stderr).toBe(2);
        expect(r.stderr).toContain(`overhaul: ${db}: cannot be the database: ${why}`);
        expect(r.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
        expect(r.stderr).not.toMatch(/internal error/);
      }
    }
    expect(readFileSync(join(dir, "notes.txt"), "utf8")).toBe("not a database\n");
    expect(readdirSync(dir).sort()).toEqual(["a-directory", "inventory.ini", "notes.txt", "plan.yaml"]);
    expect(readdirSync(join(dir, "a-directory"))).toEqual([]);
  });

  it("a database that would keep nothing (--db '', --db :memory:, OVERHAUL_DB='') or cannot be opened (a mistyped URL) is refused before anything runs", async () => {
    const dir = join(root, "db-keeps-nothing");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "plan.yaml"), GOOD_PLAN);
    writeFileSync(join(dir, "inventory.ini"), GOOD_INV);
    writeFileSync(join(dir, "sim.yaml"), GOOD_PLAN.replace("hosts: web", "hosts: workers"));
    const run = ["run", "plan.yaml", "-i", "inventory.ini", "--all"];
    for (const [args, env, place] of [
      [["--db", "", ...run], {}, "--db: is empty"],
      [["--db", ":memory:", ...run], {}, "--db: an in-memory database keeps nothing"],
      [run, { OVERHAUL_DB: "" }, "OVERHAUL_DB: is empty"],
      [["--db", "", "token", "create", "--role", "viewer", "--name", "x"], {}, "--db: is empty"],
      [["simulate", "sim.yaml", "--fleet", "regions=1,hosts=3", "--db", " "], {}, "--db: is empty"],
      // A mistyped URL is not a SQLite file in a directory named after it (password and all).
      [
        ["--db", "postgress://ops:hunter2@127.0.0.1:5432/fleet", "token", "list"],
        {},
        "--db: is a postgress:// URL, which is not a database Overhaul can open",
      ],
      [run, { OVERHAUL_DB: "mysql://ops:hunter2@127.0.0.1/fleet" }, "OVERHAUL_DB: is a mysql:// URL"],
      [
        ["simulate", "sim.yaml", "--fleet", "regions=1,hosts=3", "--db", "sqlite://x.db"],
        {},
        "--db: simulations run on SQLite or in memory, not on a sqlite:// URL",
      ],
    ] as const) {
      const r = await runCli([...args], { cwd: dir, env: { OVERHAUL_LOG_DIR: join(dir, "logs"), ...env } });
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain(place);
      expect(r.stderr).not.toContain("hunter2");
      expect(r.stdout).toBe("");
    }
    // Nothing ran: no host was touched, no database or log was written.
    expect(readdirSync(dir).sort()).toEqual(["inventory.ini", "plan.yaml", "sim.yaml"]);
  });

  it("validate reports every problem of a plan at once, sorted by line", async () => {
    const dir = join(root, "many");
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, "plan.yaml"),
      plan(
        "name: p\nhosts: web\nsteps:\n  - { name: a, kind: rebot }\n  - { name: b, kind: command, run: x, retry: { attempts: 0 } }\nconcurrency: { global: -1 }\n",
      ),
    );
    const r = await runCli(["validate", "plan.yaml"], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("3 problems");
    const lines = [...r.stderr.matchAll(/plan\.yaml:(\d+)/g)].map((m) => Number(m[1]));
    expect(lines).toEqual([4, 5, 6]);
  });

  it("inventory list: -l with --json (which prints the whole inventory) is refused, not ignored", async () => {
    const dir = join(root, "inv-json-limit");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "inventory.ini"), GOOD_INV);
    const r = await runCli(["inventory", "list", "-i", "inventory.ini", "--json", "-l", "web01"], {
      cwd: dir,
    });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("--limit: narrows the table only");
    const table = await runCli(["inventory", "list", "-i", "inventory.ini", "-l", "web01"], { cwd: dir });
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toContain("web01");
    expect(table.stdout).not.toContain("web02");
  });

  it("validate -i refuses the host variables a run of the plan refuses (same problems), and says what a wide run must confirm", async () => {
    const dir = join(root, "validate-hosts");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "plan.yaml"), GOOD_PLAN);
    writeFileSync(
      join(dir, "bad.ini"),
      "[web]\nw1 ansible_connection=local overhaul_role=leader ansible_port=99999\n",
    );
    const validate = await runCli(["validate", "plan.yaml", "-i", "bad.ini", "--json"], { cwd: dir });
    const run = await runCli(
      ["--db", join(dir, "db.sqlite"), "run", "plan.yaml", "-i", "bad.ini", "--limit", "w1"],
      { cwd: dir, env: { OVERHAUL_LOG_DIR: join(dir, "logs") } },
    );
    expect(validate.code, validate.stderr).toBe(2);
    expect(run.code, run.stderr).toBe(2);
    const { valid, problems } = JSON.parse(validate.stdout) as { valid: boolean; problems: unknown[] };
    expect(valid).toBe(false);
    expect(problems).toEqual([
      expect.objectContaining({ file: "bad.ini", line: 2, path: "w1.ansible_port" }),
      expect.objectContaining({ file: "bad.ini", line: 2, path: "w1.overhaul_role" }),
    ]);
    expect(validate.stderr).toBe(run.stderr);
    expect(validate.stderr).toContain("ansible_port must be an integer from 1 to 65535, got 99999");
    expect(validate.stderr).toContain('overhaul_role "leader" is not a role');

    // A good inventory over two regions: valid, and the count --confirm would need is said.
    writeFileSync(
      join(dir, "two.ini"),
      "[web]\nweb01 overhaul_region=eu\nweb02 overhaul_region=us\n[web:vars]\nansible_connection=local\n",
    );
    const ok = await runCli(["validate", "plan.yaml", "-i", "two.ini"], { cwd: dir });
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain(
      'is valid (1 steps, 2 host(s) in 2 region(s) in scope of "web"; a run on all 2 needs --all or --confirm 2)',
    );
    const json = await runCli(["validate", "plan.yaml", "-i", "two.ini", "--json"], { cwd: dir });
    expect(JSON.parse(json.stdout)).toMatchObject({
      valid: true,
      hosts: ["web01", "web02"],
      regions: ["eu", "us"],
      confirm: 2,
    });
    // One region, few hosts: nothing to confirm.
    writeFileSync(join(dir, "one.ini"), GOOD_INV);
    const one = await runCli(["validate", "plan.yaml", "-i", "one.ini", "--json"], { cwd: dir });
    expect(JSON.parse(one.stdout)).toMatchObject({ valid: true, regions: ["default"], confirm: null });
  });

  it("validate --json: an invalid plan is a document on stdout too (valid false, each problem), exit 2", async () => {
    const dir = join(root, "json");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "plan.yaml"), "name: p\nhosts: web\nsteps:\n  - { name: a, kind: rebot }\n");
    const r = await runCli(["validate", "plan.yaml", "--json"], { cwd: dir });
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toEqual({
      valid: false,
      problems: [
        expect.objectContaining({
          file: "plan.yaml",
          line: 4,
          path: "steps[0].kind",
          message: 'unknown kind "rebot" (did you mean "reboot"?)',
        }),
      ],
    });
    expect(r.stderr).toContain('plan.yaml:4:22: steps[0].kind: unknown kind "rebot"');
    // An error about the hosts pattern (found against the inventory) has its line and column too.
    writeFileSync(
      join(dir, "typo.yaml"),
      'name: p\n\nhosts: "web:dbb"\nsteps:\n  - { name: a, kind: sleep, duration: 1s }\n',
    );
    writeFileSync(join(dir, "inventory.ini"), GOOD_INV);
    const typo = await runCli(["validate", "typo.yaml", "-i", "inventory.ini", "--json"], { cwd: dir });
    expect(typo.code).toBe(2);
    expect(JSON.parse(typo.stdout)).toEqual({
      valid: false,
      problems: [
        {
          file: "typo.yaml",
          line: 3,
          column: 8,
          path: "hosts",
          message: 'pattern part(s) "dbb" match no host or group in inventory.ini',
          expected: "host names, group names or patterns that exist in the inventory",
        },
      ],
    });
    expect(typo.stderr).toContain('typo.yaml:3:8: hosts: pattern part(s) "dbb" match no host');
    const missing = await runCli(["validate", "nope.yaml", "--json"], { cwd: dir });
    expect(missing.code).toBe(2);
    expect(JSON.parse(missing.stdout)).toMatchObject({ valid: false, problems: [{ file: "nope.yaml" }] });
  });
});
