/**
 * Plan loading: every bad plan is rejected with one InputError naming the exact place
 * (path, line, column) and what would be valid; good plans come back with defaults applied
 * and durations in milliseconds. Odd input (empty, binary, scalars, alias bombs, deep nesting,
 * random text) never throws anything but InputError.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { InputError, type Problem } from "../errors.js";
import { compilePlan } from "./compile.js";
import { parsePlan, parsePlanText } from "./load.js";
import { MAX_PROBLEMS } from "./yaml-problems.js";

const HEAD = "name: nightly\nhosts: web\n";
/** A plan whose steps start on line 4 (`steps:` is line 3). */
const withSteps = (steps: string, tail = "") => `${HEAD}steps:\n${steps}${tail}`;
const CMD = "  - name: a\n    kind: command\n    run: echo ok\n";

function problemsOf(text: string): Problem[] {
  try {
    parsePlanText(text, "plan.yaml");
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    return (e as InputError).problems;
  }
  throw new Error("expected the plan to be rejected");
}

interface BadCase {
  name: string;
  text: string;
  path: string | undefined;
  line: number;
  column?: number;
  message: string;
  expected?: string;
}

const bad: BadCase[] = [
  {
    name: "unknown step kind",
    text: withSteps("  - name: a\n    kind: rebot\n"),
    path: "steps[0].kind",
    line: 5,
    column: 11,
    message: 'unknown kind "rebot" (did you mean "reboot"?)',
    expected: "one of command, sleep, gate, reboot, wait-healthy",
  },
  {
    name: "missing step kind points at the step mapping",
    text: withSteps("  - name: a\n    run: echo\n"),
    path: "steps[0].kind",
    line: 4,
    column: 5,
    message: 'missing required key "kind"',
    expected: "one of command, sleep, gate, reboot, wait-healthy",
  },
  {
    name: "missing run of a command step",
    text: withSteps(`${CMD}  - name: b\n    kind: command\n`),
    path: "steps[1].run",
    line: 7,
    column: 5,
    message: 'missing required key "run"',
    expected: "a non-empty string",
  },
  {
    name: "zero retry attempts",
    text: withSteps(`${CMD}    retry:\n      attempts: 0\n`),
    path: "steps[0].retry.attempts",
    line: 8,
    column: 17,
    message: "must be at least 1",
    expected: "an integer from 1 to 100",
  },
  {
    name: "negative retry attempts",
    text: withSteps(`${CMD}    retry: { attempts: -3 }\n`),
    path: "steps[0].retry.attempts",
    line: 7,
    message: "must be at least 1",
    expected: "an integer from 1 to 100",
  },
  {
    name: "fractional retry attempts",
    text: withSteps(`${CMD}    retry:\n      attempts: 2.5\n`),
    path: "steps[0].retry.attempts",
    line: 8,
    message: "must be a whole number, got 2.5",
    expected: "an integer from 1 to 100",
  },
  {
    name: "retry attempts as a string",
    text: withSteps(`${CMD}    retry:\n      attempts: three\n`),
    path: "steps[0].retry.attempts",
    line: 8,
    message: 'wrong type: got the string "three"',
    expected: "an integer from 1 to 100",
  },
  {
    name: "misspelt key inside retry points at the key and suggests a fix",
    text: withSteps(`${CMD}    retry:\n      attempts: 2\n      backof: {}\n`),
    path: "steps[0].retry.backof",
    line: 9,
    column: 7,
    message: 'unknown key "backof" (did you mean "backoff"?)',
    expected: "one of attempts, backoff",
  },
  {
    name: "unknown key at the top level",
    text: withSteps(CMD, "limit: web01\n"),
    path: "limit",
    line: 7,
    column: 1,
    message: 'unknown key "limit"',
    expected: "hosts",
  },
  {
    name: "key of another step kind",
    text: withSteps(`${CMD}    duration: 5s\n`),
    path: "steps[0].duration",
    line: 7,
    column: 5,
    message: 'unknown key "duration"',
    expected: "run",
  },
  {
    name: "backoff jitter above 1",
    text: withSteps(`${CMD}    retry:\n      attempts: 2\n      backoff:\n        jitter: 1.5\n`),
    path: "steps[0].retry.backoff.jitter",
    line: 10,
    column: 17,
    message: "must be at most 1, got 1.5",
    expected: "a number from 0 to 1",
  },
  {
    name: "bad duration string",
    text: withSteps("  - name: pause\n    kind: sleep\n    duration: a while\n"),
    path: "steps[0].duration",
    line: 6,
    column: 15,
    message: '"a while" is not a duration',
    expected: "30s",
  },
  {
    name: "duration longer than a year (a typo, not a wait)",
    text: withSteps("  - name: pause\n    kind: sleep\n    duration: 99999999999999999999d\n"),
    path: "steps[0].duration",
    line: 6,
    column: 15,
    message: '"99999999999999999999d" is longer than a year',
    expected: "at most 366d",
  },
  {
    name: "timeout in seconds longer than a year",
    text: withSteps("  - name: pause\n    kind: sleep\n    duration: 1s\n    timeout: 31622401\n"),
    path: "steps[0].timeout",
    line: 7,
    message: "31622401 seconds is longer than a year",
    expected: "at most 366d",
  },
  {
    name: "duration of the wrong type",
    text: withSteps("  - name: pause\n    kind: sleep\n    duration: [1, 2]\n"),
    path: "steps[0].duration",
    line: 6,
    message: "wrong type: got a list",
    expected: "a duration such as 30s",
  },
  {
    name: "negative numeric timeout",
    text: withSteps(CMD, "timeout: -5\n"),
    path: "timeout",
    line: 7,
    column: 10,
    message: "must be a non-negative duration",
    expected: "10m",
  },
  {
    name: "zero step timeout (the step would end in doubt before its command could answer)",
    text: withSteps(`${CMD}    timeout: 0s\n`),
    path: "steps[0].timeout",
    line: 7,
    column: 14,
    message: '"0s" is shorter than 1s',
    expected: "a timeout of at least 1s",
  },
  {
    name: "sub-millisecond step timeout",
    text: withSteps(`${CMD}    timeout: 0.4ms\n`),
    path: "steps[0].timeout",
    line: 7,
    message: '"0.4ms" is shorter than 1s',
    expected: "at least 1s",
  },
  {
    name: "plan timeout in seconds that rounds to zero",
    text: withSteps(CMD, "timeout: 0.0001\n"),
    path: "timeout",
    line: 7,
    column: 10,
    message: "0.0001 seconds is shorter than 1s",
    expected: "a timeout of at least 1s",
  },
  {
    name: "zero polling interval of wait-healthy (a probe in a tight loop)",
    text: withSteps("  - name: up\n    kind: wait-healthy\n    interval: 0s\n    timeout: 2s\n"),
    path: "steps[0].interval",
    line: 6,
    column: 15,
    message: '"0s" is shorter than 1s',
    expected: "an interval of at least 1s between probes",
  },
  {
    name: "sub-second polling interval of a gate",
    text: withSteps("  - name: fleet-ok\n    kind: gate\n    run: check-fleet\n    interval: 500ms\n"),
    path: "steps[0].interval",
    line: 7,
    column: 15,
    message: '"500ms" is shorter than 1s',
  },
  {
    name: "zero polling interval of a reboot, in seconds",
    text: withSteps("  - name: boot\n    kind: reboot\n    interval: 0\n"),
    path: "steps[0].interval",
    line: 6,
    column: 15,
    message: "0 seconds is shorter than 1s",
  },
  {
    name: "empty scope",
    text: `name: nightly\nhosts: ""\nsteps:\n${CMD}`,
    path: "hosts",
    line: 2,
    column: 8,
    message: "no implicit all",
    expected: "a non-empty string",
  },
  {
    name: "missing scope points at the top mapping",
    text: `name: nightly\nsteps:\n${CMD}`,
    path: "hosts",
    line: 1,
    column: 1,
    message: 'missing required key "hosts"',
  },
  {
    name: "no steps",
    text: `${HEAD}steps: []\n`,
    path: "steps",
    line: 3,
    column: 8,
    message: "at least one step",
    expected: "a list of at least 1 item",
  },
  {
    name: "steps is a mapping",
    text: `${HEAD}steps:\n  a: 1\n`,
    path: "steps",
    line: 4,
    column: 3,
    message: "wrong type: got a mapping",
    expected: "a list",
  },
  {
    name: "a step that is a scalar",
    text: withSteps(`${CMD}  - reboot\n`),
    path: "steps[1]",
    line: 7,
    column: 5,
    message: 'wrong type: got the string "reboot"',
    expected: "a mapping",
  },
  {
    name: "plan name with spaces",
    text: `name: my plan\nhosts: web\nsteps:\n${CMD}`,
    path: "name",
    line: 1,
    column: 7,
    message: "must start with a letter or digit",
  },
  {
    name: "duplicate step names",
    text: withSteps(`${CMD}  - name: a\n    kind: sleep\n    duration: 1s\n`),
    path: "steps[1].name",
    line: 7,
    column: 11,
    message: 'duplicate step name "a" (also steps[0])',
  },
  {
    name: "gate with neither run nor approval",
    text: withSteps("  - name: g\n    kind: gate\n    interval: 10s\n"),
    path: "steps[0]",
    line: 4,
    column: 5,
    message:
      "a gate needs `run` (a health gate: a command polled until it exits 0) or `approval: true` (a manual gate); it has neither",
    expected: "run: COMMAND, or approval: true",
  },
  {
    name: "gate with approval: false and no run says it has neither",
    text: withSteps("  - name: g\n    kind: gate\n    approval: false\n"),
    path: "steps[0]",
    line: 4,
    column: 5,
    message: "it has neither",
    expected: "run: COMMAND, or approval: true",
  },
  {
    name: "gate with both run and approval",
    text: withSteps("  - name: g\n    kind: gate\n    run: check-fleet\n    approval: true\n"),
    path: "steps[0]",
    line: 4,
    column: 5,
    message: "a gate is a health gate (`run`) or a manual gate (`approval: true`), not both",
    expected: "either run: COMMAND or approval: true, without the other",
  },
  {
    name: "wave with both count and percent",
    text: withSteps(CMD, "waves:\n  - count: 1\n  - count: 2\n    percent: 50\n"),
    path: "waves[1]",
    line: 9,
    column: 5,
    message: "exactly one of `count` or `percent`",
  },
  {
    name: "wave percent of zero",
    text: withSteps(CMD, "waves:\n  - percent: 0\n"),
    path: "waves[0].percent",
    line: 8,
    column: 14,
    message: "must be greater than 0, got 0",
    expected: "a number greater than 0 and at most 100",
  },
  {
    name: "failure budget above 100 %",
    text: withSteps(CMD, "failureBudget:\n  maxFailedPercent: 150\n"),
    path: "failureBudget.maxFailedPercent",
    line: 8,
    column: 21,
    message: "must be at most 100, got 150",
    expected: "a number from 0 to 100",
  },
  {
    name: "per-failure-domain cap of zero",
    text: withSteps(CMD, "concurrency:\n  perFailureDomain:\n    rack: 0\n"),
    path: "concurrency.perFailureDomain.rack",
    line: 9,
    column: 11,
    message: "must be at least 1",
    expected: "an integer of at least 1",
  },
  {
    name: "misspelt failure-domain kind (a cap on nothing) suggests the kind",
    text: withSteps(CMD, "concurrency:\n  global: 4\n  perFailureDomain: { racks: 1 }\n"),
    path: "concurrency.perFailureDomain.racks",
    line: 9,
    column: 23,
    message: 'unknown key "racks" (did you mean "rack"?)',
    expected: "one of rack, power, switch",
  },
  {
    name: "failure-domain kind no host has",
    text: withSteps(CMD, "concurrency:\n  perFailureDomain:\n    pdu: 2\n"),
    path: "concurrency.perFailureDomain.pdu",
    line: 9,
    column: 5,
    message: 'unknown key "pdu"',
    expected: "one of rack, power, switch",
  },
  {
    name: "empty failure-domain kind",
    text: withSteps(CMD, 'concurrency:\n  perFailureDomain: { "": 2 }\n'),
    path: 'concurrency.perFailureDomain[""]',
    line: 8,
    column: 23,
    message: 'unknown key ""',
    expected: "one of rack, power, switch",
  },
  {
    name: "idempotent written as yes/no text",
    text: withSteps(`${CMD}    idempotent: "yes"\n`),
    path: "steps[0].idempotent",
    line: 7,
    column: 17,
    message: 'wrong type: got the string "yes"',
    expected: "true or false",
  },
  {
    name: "empty description value points at the key",
    text: withSteps(`${CMD}    description:\n`),
    path: "steps[0].description",
    line: 7,
    column: 5,
    message: "got an empty value",
    expected: "a string",
  },
  {
    name: "bad value inherited through a merge key points at the anchor",
    text: `defaults: &d\n  timeout: soonish\n${HEAD}steps:\n  - <<: *d\n    name: a\n    kind: command\n    run: x\n`,
    path: "steps[0].timeout",
    line: 2,
    column: 12,
    message: '"soonish" is not a duration',
  },
  {
    name: "whitespace-only command",
    text: withSteps("  - name: a\n    kind: command\n    run: '   '\n"),
    path: "steps[0].run",
    line: 6,
    column: 10,
    message: "non-empty shell command",
  },
  {
    name: "seed that is not an integer",
    text: withSteps(CMD, "seed: 1.5\n"),
    path: "seed",
    line: 7,
    column: 7,
    message: "must be a whole number, got 1.5",
    expected: "an integer",
  },
  // YAML-level errors: no path, but line and column.
  {
    name: "duplicate key",
    text: `${HEAD}hosts: db\nsteps:\n${CMD}`,
    path: undefined,
    line: 3,
    column: 1,
    message: 'duplicate key "hosts"',
  },
  {
    name: "unclosed flow sequence",
    text: `${HEAD}steps: [\n`,
    path: undefined,
    line: 4,
    message: "YAML syntax error",
  },
  {
    name: "bad indentation",
    text: `${HEAD}steps:\n  - name: a\n     kind: command\n`,
    path: undefined,
    line: 4,
    column: 11,
    message: "YAML syntax error",
  },
  {
    name: "two documents",
    text: `${HEAD}steps:\n${CMD}---\nname: other\n`,
    path: undefined,
    line: 7,
    column: 1,
    message: "more than one YAML document",
  },
  {
    name: "unknown tag",
    text: withSteps(CMD, "timeout: !secret 5m\n"),
    path: undefined,
    line: 7,
    message: "custom YAML tags are not supported",
  },
  {
    name: "a list at the top",
    text: "- name: a\n- name: b\n",
    path: undefined,
    line: 1,
    column: 1,
    message: "must be a mapping of keys to values, but it is a list",
    expected: "name, hosts and steps",
  },
  {
    name: "a scalar at the top",
    text: "\n  reboot everything\n",
    path: undefined,
    line: 2,
    column: 3,
    message: 'but it is the string "reboot everything"',
  },
];

describe("parsePlanText rejects bad plans with the exact place", () => {
  it.each(bad)("$name", (c) => {
    const problems = problemsOf(c.text);
    const p = problems.find((x) => x.path === c.path && x.message.includes(c.message)) ?? problems[0];
    expect(p, JSON.stringify(problems)).toBeDefined();
    expect(p?.file).toBe("plan.yaml");
    expect(p?.path).toBe(c.path);
    expect(p?.line).toBe(c.line);
    if (c.column !== undefined) expect(p?.column).toBe(c.column);
    expect(p?.message).toContain(c.message);
    if (c.expected !== undefined) expect(p?.expected).toContain(c.expected);
  });

  it("has a large table", () => {
    expect(bad.length).toBeGreaterThanOrEqual(25);
  });
});

describe("parsePlanText reports every problem at once", () => {
  it("collects schema problems across the file, sorted by line", () => {
    const text = [
      "name: nightly",
      "hosts: web",
      "timeout: never",
      "steps:",
      "  - name: a",
      "    kind: sleep",
      "    duration: 1s",
      "    retry: { attempts: 0 }",
      "  - name: b",
      "    kind: teleport",
      "concurrency: { global: 0 }",
      "colour: blue",
    ].join("\n");
    const problems = problemsOf(text);
    expect(problems.map((p) => [p.line, p.path])).toEqual([
      [3, "timeout"],
      [8, "steps[0].retry.attempts"],
      [10, "steps[1].kind"],
      [11, "concurrency.global"],
      [12, "colour"],
    ]);
  });

  it("reports a duplicate step name beside the plan's other problems, not only once they are fixed", () => {
    const text = [
      "name: nightly",
      "hosts: web",
      "timeout: never",
      "steps:",
      "  - name: a",
      "    kind: sleep",
      "    duration: 1s",
      "  - name: a",
      "    kind: teleport",
      "  - 7",
    ].join("\n");
    const problems = problemsOf(text);
    expect(problems.map((p) => [p.line, p.path, p.message])).toEqual([
      [3, "timeout", expect.any(String)],
      [8, "steps[1].name", 'duplicate step name "a" (also steps[0])'],
      [9, "steps[1].kind", expect.any(String)],
      [10, "steps[2]", expect.any(String)],
    ]);
  });

  it("reports every YAML syntax error, each with line and column", () => {
    const problems = problemsOf("a: 1\na: 2\nb: 1\nb: 2\n");
    expect(problems.map((p) => [p.line, p.column])).toEqual([
      [2, 1],
      [4, 1],
    ]);
  });

  it("a key of another step kind: the expected keys are this kind's only, and the key is not suggested to itself", () => {
    const problems = problemsOf(
      withSteps(`${CMD}    duration: 5s\n  - { name: b, kind: sleep, duration: 1s, run: x }\n`),
    );
    expect(problems.map((p) => [p.path, p.message, p.expected])).toEqual([
      [
        "steps[0].duration",
        'unknown key "duration"',
        "one of name, description, retry, timeout, idempotent, pointOfNoReturn, check, verify, revert, become, kind, run",
      ],
      [
        "steps[1].run",
        'unknown key "run"',
        "one of name, description, retry, timeout, idempotent, pointOfNoReturn, check, verify, revert, become, kind, duration",
      ],
    ]);
    // A typo of a key of this kind is still caught, with this kind's keys.
    const typo = problemsOf(withSteps("  - { name: a, kind: sleep, durtion: 1s }\n")).find(
      (p) => p.path === "steps[0].durtion",
    );
    expect(typo?.message).toBe('unknown key "durtion" (did you mean "duration"?)');
  });

  it("reports each of several unknown keys at its own key", () => {
    const problems = problemsOf(withSteps(CMD, "foo: 1\nbar: 2\n"));
    expect(problems.map((p) => [p.path, p.line])).toEqual([
      ["foo", 7],
      ["bar", 8],
    ]);
  });

  it("formats one line per problem in the error message", () => {
    try {
      parsePlanText(withSteps("  - name: a\n    kind: rebot\n"), "plans/x.yaml");
      expect.unreachable();
    } catch (e) {
      expect((e as Error).message).toBe(
        'plans/x.yaml:5:11: steps[0].kind: unknown kind "rebot" (did you mean "reboot"?) ' +
          "(expected one of command, sleep, gate, reboot, wait-healthy, drain, reinstate)",
      );
    }
  });

  it("caps a flood of problems with a summary line", () => {
    const steps = Array.from({ length: 150 }, (_, i) => `  - name: s${i}\n    kind: nope\n`).join("");
    const problems = problemsOf(withSteps(steps));
    expect(problems).toHaveLength(MAX_PROBLEMS + 1);
    expect(problems.at(-1)?.message).toBe("... and 50 more problems not shown");
  });
});

describe("parsePlanText on odd input throws only InputError", () => {
  const odd: [string, string, string][] = [
    ["empty file", "", "the plan is empty"],
    ["only a comment", "# nothing here\n", "the plan is empty"],
    ["explicit null", "~\n", "the plan is empty"],
    ["a number", "42\n", "but it is 42"],
    ["binary junk", "\u0000\u0001\u00ff\ufffd\u0007garbage: [\u0000", "YAML syntax error"],
    [
      "alias bomb",
      [
        "a: &a [x, x, x, x, x, x, x, x, x, x]",
        "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]",
        "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]",
        "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]",
        "e: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]",
      ].join("\n"),
      "expands too many aliases",
    ],
    ["deep nesting", "[".repeat(20_000), "nested too deeply"],
    ["deep block nesting", `${Array.from({ length: 3000 }, (_, i) => `${" ".repeat(i)}- `).join("\n")}x`, ""],
    ["alias to an unknown anchor", `${HEAD}steps: *nowhere\n`, "alias *nowhere refers to no anchor"],
    ["alias before its anchor", "a: *x\nb: &x 1\n", "alias *x refers to no anchor"],
    ["a list as a key", "? [a, b]\n: 1\n", "a key must be a plain value"],
    ["a tab for indentation", `${HEAD}steps:\n\t- name: a\n`, "YAML syntax error"],
  ];
  it.each(odd)("%s", (_name, text, fragment) => {
    const problems = problemsOf(text);
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.length).toBeLessThanOrEqual(MAX_PROBLEMS + 1);
    expect(problems.map((p) => p.message).join("\n")).toContain(fragment);
    for (const p of problems) expect(p.file).toBe("plan.yaml");
  });

  it("never throws anything but InputError for random text", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 200 }), (text) => {
        try {
          parsePlanText(text, "f.yaml");
        } catch (e) {
          if (!(e instanceof InputError)) throw e;
        }
      }),
      { numRuns: 500 },
    );
  });

  it("never throws anything but InputError for random YAML-shaped values", () => {
    const value = fc.letrec((tie) => ({
      any: fc.oneof(
        { depthSize: "small" },
        fc.constantFrom(null, true, 0, -1, 1.5, "", "5m", "command", "gate", "x y"),
        fc.array(tie("any"), { maxLength: 3 }),
        fc.dictionary(
          fc.constantFrom("name", "hosts", "steps", "kind", "run", "retry", "attempts", "waves", "zz"),
          tie("any"),
          { maxKeys: 4 },
        ),
      ),
    })).any;
    fc.assert(
      fc.property(value, (v) => {
        try {
          parsePlanText(JSON.stringify(v) ?? "", "f.yaml");
        } catch (e) {
          if (!(e instanceof InputError)) throw e;
          for (const p of e.problems) expect(typeof p.message).toBe("string");
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe("parsePlanText accepts good plans", () => {
  it("applies every default and converts durations to milliseconds", () => {
    const plan = parsePlanText(
      [
        "name: kernel-upgrade",
        "hosts: web:&eu-west",
        "timeout: 20m",
        "steps:",
        "  - name: upgrade",
        "    kind: command",
        "    run: apt-get -y upgrade",
        "    timeout: 1h30m",
        "    retry:",
        "      attempts: 3",
        "      backoff: { initial: 500ms, max: 2 }",
        "  - name: settle",
        "    kind: sleep",
        "    duration: 90",
      ].join("\n"),
      "plan.yaml",
    );
    expect(plan).toEqual({
      name: "kernel-upgrade",
      hosts: "web:&eu-west",
      timeout: 1_200_000,
      steps: [
        {
          name: "upgrade",
          kind: "command",
          run: "apt-get -y upgrade",
          timeout: 5_400_000,
          retry: { attempts: 3, backoff: { initial: 500, factor: 2, max: 2000, jitter: 0.2 } },
          pointOfNoReturn: false,
          become: false,
        },
        { name: "settle", kind: "sleep", duration: 90_000, pointOfNoReturn: false, become: false },
      ],
      waves: [{ percent: 100 }],
      concurrency: { global: 10, perFailureDomain: {} },
      stagger: { interval: 0, jitter: 0 },
      failureBudget: {},
    });
  });

  it("one backoff default: a step without retry and a retry without backoff wait the same, 5 s first", () => {
    const plan = compilePlan(
      parsePlanText(
        [
          "name: p",
          "hosts: web",
          "steps:",
          "  - { name: a, kind: reboot }",
          "  - { name: b, kind: command, run: x, retry: { attempts: 2 } }",
          "  - { name: c, kind: command, run: y, retry: { attempts: 2, backoff: { factor: 3 } } }",
        ].join("\n"),
        "plan.yaml",
      ),
    );
    const backoff = ({ attempts: _, ...rest }: { attempts: number }) => rest;
    const [a, b, c] = plan.steps.map((s) => backoff(s.retry));
    expect(a).toEqual({ initialMs: 5_000, factor: 2, maxMs: 300_000, jitter: 0.2 });
    expect(b).toEqual(a);
    expect(c).toEqual({ ...a, factor: 3 });
  });

  it("reads every step kind, waves, caps and anchors", () => {
    const plan = parsePlanText(
      [
        "name: reboot-eu",
        "description: monthly reboot",
        "hosts: eu",
        "seed: 42",
        "steps:",
        "  - { name: drain, kind: command, run: drain.sh, idempotent: true, revert: undrain.sh }",
        "  - { name: approve, kind: gate, approval: true }",
        "  - { name: boot, kind: reboot, pointOfNoReturn: true, become: true, retry: { attempts: 3 } }",
        "  - { name: healthy, kind: wait-healthy, run: curl -f localhost, interval: 10s }",
        "  - { name: fleet-ok, kind: gate, run: check-fleet, interval: 1m }",
        "waves: [{ count: 1, name: canary }, { percent: 10 }, { percent: 100 }]",
        "concurrency: { global: 20, perRegion: 5, perFailureDomain: { rack: 2, power: 4, switch: 6 } }",
        "stagger: { interval: 30s, jitter: 10s }",
        "failureBudget: { maxFailedPercent: 5, maxFailed: 3 }",
      ].join("\n"),
      "plan.yaml",
    );
    expect(plan.steps.map((s) => s.kind)).toEqual(["command", "gate", "reboot", "wait-healthy", "gate"]);
    expect(plan.waves).toEqual([{ count: 1, name: "canary" }, { percent: 10 }, { percent: 100 }]);
    expect(plan.concurrency).toEqual({
      global: 20,
      perRegion: 5,
      perFailureDomain: { rack: 2, power: 4, switch: 6 },
    });
    expect(plan.stagger).toEqual({ interval: 30_000, jitter: 10_000 });
    expect(plan.seed).toBe(42);
    const gate = plan.steps[4];
    expect(gate?.kind === "gate" && gate.interval).toBe(60_000);
    const manual = plan.steps[1];
    expect(manual?.kind === "gate" && manual.approval).toBe(true);
  });

  it("allows zero where it means none (sleep, stagger, backoff), and 1s timeouts and intervals", () => {
    const plan = compilePlan(
      parsePlanText(
        [
          "name: p",
          "hosts: web",
          "timeout: 1s",
          "stagger: { interval: 0s, jitter: 0 }",
          "steps:",
          "  - { name: nap, kind: sleep, duration: 0s }",
          "  - { name: a, kind: command, run: x, retry: { attempts: 3, backoff: { initial: 0, max: 0s } } }",
          "  - { name: up, kind: wait-healthy, interval: 1s, timeout: 1s }",
        ].join("\n"),
        "plan.yaml",
      ),
    );
    expect(plan.stagger).toEqual({ intervalMs: 0, jitterMs: 0 });
    const [nap, a, up] = plan.steps;
    expect(nap?.durationMs).toBe(0);
    expect(a?.timeoutMs).toBe(1_000);
    expect(a?.retry).toMatchObject({ initialMs: 0, maxMs: 0 });
    expect(up).toMatchObject({ intervalMs: 1_000, timeoutMs: 1_000 });
  });

  it("says where the hosts pattern is written, for errors found later against an inventory", () => {
    const at = (text: string) => parsePlan(text, "plan.yaml").hostsAt;
    expect(at(`name: p\n\nhosts: "web:dbb"\nsteps:\n${CMD}`)).toEqual({ line: 3, column: 8 });
    expect(at(`{ name: p, steps: [{ name: a, kind: sleep, duration: 1s }],\n  hosts: web }\n`)).toEqual({
      line: 2,
      column: 10,
    });
    // Through an alias: where the pattern's text is written (as other errors through aliases).
    expect(at(`name: p\ndescription: &h web\nhosts: *h\nsteps:\n${CMD}`)).toEqual({ line: 2, column: 17 });
  });

  it("resolves anchors and merge keys", () => {
    const plan = parsePlanText(
      [
        "name: p",
        "hosts: web",
        "steps:",
        "  - &base { name: one, kind: command, run: echo 1, timeout: 5s }",
        "  - <<: *base",
        "    name: two",
      ].join("\n"),
      "plan.yaml",
    );
    expect(plan.steps.map((s) => [s.name, s.kind === "command" && s.run, s.timeout])).toEqual([
      ["one", "echo 1", 5000],
      ["two", "echo 1", 5000],
    ]);
  });

  it("accepts a byte-order mark and Windows line endings", () => {
    const plan = parsePlanText(`\ufeff${withSteps(CMD)}`.replace(/\n/g, "\r\n"), "plan.yaml");
    expect(plan.steps).toHaveLength(1);
  });
});
