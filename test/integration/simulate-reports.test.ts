/**
 * `simulate --json --report DIR` when the reports cannot be written at the end (a full disk): the
 * JSON result is printed first and kept, the failure is said on stderr, and the run's own exit
 * code is not hidden (3 and 5 stand; a run that succeeded exits 2). In process, with the writer
 * failing on purpose.
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { simulateCommand } from "../../src/cli/commands/simulate.js";
import { InputError } from "../../src/core/errors.js";

vi.mock("../../src/cli/report-files.js", async (importOriginal) => {
  const real = await importOriginal<typeof import("../../src/cli/report-files.js")>();
  return {
    ...real,
    writeFileSet: vi.fn(async (target: { flag: string; dir: string }) => {
      throw new InputError({
        file: target.dir,
        path: target.flag,
        message: "cannot write the reports: no space left on the device; none was replaced",
      });
    }),
  };
});

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "overhaul-simulate-reports-"));
  writeFileSync(join(work, "dies.yaml"), "failures:\n  - { kind: never-returns, host: r01-h001 }\n");
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Run the command, recording stdout and stderr writes in order. */
async function simulate(scenario?: string): Promise<{ code: number; writes: [string, string][] }> {
  const writes: [string, string][] = [];
  const record = (stream: "stdout" | "stderr") => (chunk: string | Uint8Array) => {
    writes.push([stream, String(chunk)]);
    return true;
  };
  const out = vi.spyOn(process.stdout, "write").mockImplementation(record("stdout"));
  const err = vi.spyOn(process.stderr, "write").mockImplementation(record("stderr"));
  try {
    const code = await simulateCommand(join(process.cwd(), "examples/demo/plan.yaml"), {
      fleet: "regions=1,hosts=3,holdovers=0.34,workloads=1",
      json: true,
      db: ":memory:",
      report: join(work, "out"),
      ...(scenario ? { scenario: join(work, scenario) } : {}),
    });
    return { code, writes };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

describe("simulate --json --report DIR, the reports failing at the end", () => {
  it("a failed run: the JSON is printed first, the write failure after it, and exit 3 stands", async () => {
    const { code, writes } = await simulate("dies.yaml");
    expect(code).toBe(3);
    const json = writes.findIndex(([s]) => s === "stdout");
    const failure = writes.findIndex(([s, t]) => s === "stderr" && t.includes("cannot write the reports"));
    expect(json).toBeGreaterThanOrEqual(0);
    expect(JSON.parse(writes[json]?.[1] ?? "").report.run.state).toBe("failed");
    expect(failure).toBeGreaterThan(json);
    expect(writes.map(([, t]) => t).join("")).toContain("(the run's own outcome stands: exit 3)");
  });

  it("a run that succeeded: exit 2, since the reports asked for are missing, and says so", async () => {
    const { code, writes } = await simulate();
    expect(code).toBe(2);
    expect(JSON.parse(writes.find(([s]) => s === "stdout")?.[1] ?? "").report.run.state).toBe("succeeded");
    expect(writes.map(([, t]) => t).join("")).toContain(
      "(the run itself succeeded: exit 2 only because the reports could not be written)",
    );
    // Nothing but the (empty) directory prepared before the run.
    expect(readdirSync(join(work, "out"))).toEqual([]);
  });
});
