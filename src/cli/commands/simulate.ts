/**
 * `overhaul simulate PLAN (-i INV | --fleet SPEC) [--scenario FILE] [--seed N] [--json] [--report DIR]`:
 * a dry run. The same engine drives the plan against a simulated copy of the fleet in virtual time,
 * with the scenario's failures injected, then every invariant is checked.
 *
 * Invariants:
 * - Nothing real is touched: the transport, workloads and health are the simulator's; the run is
 *   stored in its own database (`openSimStore`), never in the database real runs use, and it is
 *   marked `simulated` (no real coordinator drives it).
 * - Same inputs and seed, same bytes: `--json` and the report files are canonical and hold only
 *   virtual times.
 * - Exit: 0 every host succeeded, 3 the run ended with failed / in-doubt hosts or did not end,
 *   5 an invariant was violated (whatever the hosts did), 2 bad input.
 * - Bad input is found before anything is simulated or written: a `--db` that holds real runs,
 *   a `--report DIR` that cannot take the reports. Injected failures that cannot happen in this
 *   run are warnings (stderr and `--json`), not errors.
 * - `--report DIR` is written after the outcome (and `--json`) is printed, as one set (all new
 *   files, or the old ones untouched). A late write failure never hides the run's outcome: 3 and
 *   5 stand, 0 becomes 2.
 */

import { createHash } from "node:crypto";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { VirtualClock } from "../../adapters/clock/virtual-clock.js";
import { loadInventory } from "../../adapters/inventory-files/index.js";
import { MemoryStore } from "../../adapters/store-memory/memory-store.js";
import { openSqliteStore } from "../../adapters/store-sql/index.js";
import { InputError, type Problem } from "../../core/errors.js";
import { type Inventory, matchPattern, toFleetHosts } from "../../core/inventory/index.js";
import type { Host, Workload } from "../../core/model/fleet.js";
import { checkUtcOffsets } from "../../core/model/utc-offset.js";
import { type RunSchedule, runScheduleOf } from "../../core/planner/run-schedule.js";
import { buildReport, canonicalJson, type Report, renderReport } from "../../core/report/index.js";
import { generateFleet, parseFleetSpec } from "../../core/sim/fleet-gen.js";
import { fleetInventory } from "../../core/sim/fleet-inventory.js";
import { describeHeld, type InvariantReport } from "../../core/sim/invariants.js";
import { moveDowntimes } from "../../core/sim/ledger.js";
import {
  checkScenarioTargets,
  defaultScenario,
  readScenario,
  type Scenario,
  type ScenarioSource,
} from "../../core/sim/scenario.js";
import { unreachableFailures } from "../../core/sim/scenario-reach.js";
import { generateWorkloads, MAX_PER_HOST } from "../../core/sim/workload-gen.js";
import type { RunRecord, Store } from "../../ports/store.js";
import { type LoadedPlan, loadPlanFile, readUserFile, urlScheme } from "../compose.js";
import { EXIT } from "../exit-codes.js";
import { makeOut, type Out, paint, warnAll } from "../output.js";
import { parseOrder, scheduleFor } from "../planning.js";
import { Progress } from "../progress.js";
import { prepareReportDir, removeCreated, writeFileSet } from "../report-files.js";
import { hostsPlace } from "../scope.js";
import { type SimulationInput, type SimulationResult, simulateRun } from "../simulate/runner.js";
import { checkWindowFlags, chooseWindows, plannerWindows, type WindowFlags } from "../windows.js";

export const SIM_DIR = ".overhaul/simulations";
/** Virtual start of every simulation: a Monday, 02:00 UTC. */
export const SIM_START = Date.UTC(2026, 0, 5, 2, 0, 0);
/**
 * How long a simulated run may take (virtual time, after the first window opens): a run still
 * going then is stopped and reported unfinished. Given to the runner, and the limit the warnings
 * about failures timed past it are measured against.
 */
export const SIM_LIMIT_MS = 7 * 86_400_000;

/**
 * The clock of a simulation, at SIM_START. Time moves at the first idle macrotask turn
 * (`quietTurns: 0`): everything a simulation waits for is this clock, a promise chain, or a store
 * call that `simulateRun` tracks, so nothing can still be on its way after such a turn. Same
 * events as the default settling (checked by the sim-2000 bench), a fifth of the turns.
 */
export function simClock(): VirtualClock {
  return new VirtualClock(SIM_START, { quietTurns: 0 });
}

/** With `schedule`, the window flags (`--history` ...): each region's window is chosen; the run waits for it. */
export interface SimulateOptions extends Partial<WindowFlags> {
  inventory?: string;
  fleet?: string;
  workloads?: number;
  scenario?: string;
  seed?: number;
  limit?: string;
  json?: boolean;
  quiet?: boolean;
  report?: string;
  db?: string;
  noColor?: boolean;
  /** Follow the planner's schedule (see `overhaul plan`), in this order policy. */
  schedule?: boolean;
  order?: string;
}

export interface SimulatedFleet {
  hosts: Host[];
  workloads: Workload[];
  inventory: Inventory;
  /** Where the fleet came from, for the run's options and the report. */
  source: Record<string, unknown>;
}

export async function buildSimFleet(opts: SimulateOptions, seed: number, out: Out): Promise<SimulatedFleet> {
  if ((opts.inventory === undefined) === (opts.fleet === undefined)) {
    throw new InputError({
      path: opts.inventory === undefined ? "-i / --fleet" : "--fleet",
      message:
        opts.inventory === undefined ? "name the fleet to simulate" : "give either -i or --fleet, not both",
      expected: "-i INVENTORY (a real inventory) or --fleet regions=3,hosts=6,holdovers=0.25,workloads=4",
    });
  }
  checkWorkloadsFlag(opts.workloads);
  if (opts.fleet !== undefined) {
    const spec = parseFleetSpec(opts.fleet);
    const fleet = generateFleet(spec);
    const workloads =
      opts.workloads !== undefined
        ? generateWorkloads(fleet.hosts, opts.workloads, spec.seed, spec.vms)
        : fleet.workloads;
    return {
      hosts: fleet.hosts,
      workloads,
      inventory: fleetInventory(fleet.hosts),
      source: { fleet: opts.fleet },
    };
  }
  const inv = await loadInventory(opts.inventory as string);
  warnAll(out, inv.warnings);
  const hosts = toFleetHosts(inv);
  // Windows, estimates, generated history and the simulator all read the regions' clocks.
  checkUtcOffsets(hosts, opts.inventory);
  return {
    hosts,
    workloads: generateWorkloads(hosts, opts.workloads ?? 0, seed),
    inventory: inv,
    source: { inventory: opts.inventory },
  };
}

/** `--workloads N` is per worker host, 0..MAX_PER_HOST, as the fleet spec's `workloads=` key. */
function checkWorkloadsFlag(n: number | undefined): void {
  if (n === undefined || (Number.isInteger(n) && n >= 0 && n <= MAX_PER_HOST)) return;
  throw new InputError({
    path: "--workloads",
    message: `must be at most ${MAX_PER_HOST} per worker host, got ${n}`,
    expected: `a whole number 0..${MAX_PER_HOST}`,
  });
}

/** The plan's `hosts` pattern, narrowed by `--limit`; nothing matching is an input error. */
export function simScope(fleet: SimulatedFleet, loaded: LoadedPlan, limit?: string): Host[] {
  const place = hostsPlace(loaded.file, loaded.hostsAt);
  const fromPlan = matchPattern(fleet.inventory, loaded.plan.hosts, place);
  if (fromPlan.unmatched.length > 0) {
    throw new InputError({
      ...place,
      message: `pattern part(s) ${fromPlan.unmatched.map((u) => `"${u}"`).join(", ")} match no host or group of the simulated fleet`,
      expected: "host names, group names (regions, workers, holdovers) or patterns that exist in the fleet",
    });
  }
  let names = fromPlan.hosts;
  if (limit !== undefined) {
    const lim = matchPattern(fleet.inventory, limit, { path: "--limit" });
    if (limit.trim() === "" || lim.unmatched.length > 0) {
      throw new InputError({
        path: "--limit",
        message: limit.trim() === "" ? "is empty" : `${lim.unmatched.join(", ")} match(es) nothing`,
        expected: "an Ansible host pattern that names hosts of the fleet",
      });
    }
    const allowed = new Set(lim.hosts);
    names = names.filter((n) => allowed.has(n));
  }
  if (names.length === 0) {
    throw new InputError({ path: "hosts", message: "the scope is empty", expected: "at least one host" });
  }
  const byName = new Map(fleet.hosts.map((h) => [h.name, h]));
  return names.map((n) => byName.get(n) as Host);
}

/**
 * A simulation's id names its inputs: the plan, the fleet, the scope, the scenario and the seed.
 * The same simulation run twice has the same id (and gives the same bytes).
 */
export function simulationId(
  loaded: LoadedPlan,
  fleet: SimulatedFleet,
  scope: readonly Host[],
  scenario: Scenario,
  schedule?: RunSchedule,
): string {
  const h = createHash("sha256");
  h.update(loaded.hash);
  h.update(
    canonicalJson({
      fleet: fleet.hosts,
      workloads: fleet.workloads,
      scope: scope.map((x) => x.name),
      scenario,
      ...(schedule !== undefined ? { schedule } : {}),
    }),
  );
  return `sim-${h.digest("hex").slice(0, 12)}`;
}

/**
 * Where a simulation is stored: by default its own SQLite file, `.overhaul/simulations/<id>.db`,
 * replaced when the same simulation runs again (it would be identical). `--db FILE` shares a file
 * between simulations (an id already in it is an input error), never with real runs: a file that
 * holds a run not marked `simulated` is an input error, found before the simulation writes
 * anything. `--db :memory:` keeps nothing. `withRealRuns` lifts the rule for `overhaul demo`,
 * whose run is put in a served database on purpose, to be watched on the dashboard.
 */
export async function openSimStore(
  db: string | undefined,
  id: string,
  { withRealRuns = false }: { withRealRuns?: boolean } = {},
): Promise<{ store: Store; where: string }> {
  if (db === ":memory:") return { store: new MemoryStore(), where: ":memory:" };
  if (db !== undefined && db.trim() === "")
    throw new InputError({
      path: "--db",
      message: "is empty",
      expected: `a SQLite file (default ${SIM_DIR}/<id>.db) or :memory:`,
    });
  if (db !== undefined && urlScheme(db) !== undefined) {
    throw new InputError({
      path: "--db",
      message: `simulations run on SQLite or in memory, not on a ${urlScheme(db)}:// URL`,
      expected: `a SQLite file (default ${SIM_DIR}/<id>.db) or :memory:`,
    });
  }
  const where = db ?? join(SIM_DIR, `${id}.db`);
  if (db === undefined)
    for (const suffix of ["", "-wal", "-shm"]) await rm(`${where}${suffix}`, { force: true });
  const store = await openSqliteStore(where);
  const real =
    db !== undefined && !withRealRuns
      ? (await store.listRuns()).filter((r) => r.options.simulated !== true)
      : [];
  if (real.length > 0) {
    await store.close();
    const newest = real[0] as RunRecord;
    throw new InputError({
      path: "--db",
      file: db as string,
      message: `holds ${real.length} real run(s) (the newest: ${newest.id}, plan ${newest.planName}); simulations never share a database with real runs`,
      expected: "a new file, :memory:, or a database that holds only simulations",
    });
  }
  if (db !== undefined && (await store.getRun(id))) {
    await store.close();
    throw new InputError({
      file: db,
      message: `this simulation (run ${id}) is already stored here, and would come out identical`,
      expected: "another --db file, or :memory:",
    });
  }
  return { store, where };
}

export interface SimulationOutput {
  report: Report;
  invariants: InvariantReport;
  /** The scenario's failures that cannot happen in this run (see `failuresOutOfReach`). */
  warnings?: Problem[];
  simulation: {
    seed: number;
    coordinators: number;
    virtualMs: number;
    hosts: number;
    workloads: number;
    unfinished: string | null;
    fleet: Record<string, unknown>;
  };
}

export function simulationOutput(
  res: SimulationResult,
  loaded: LoadedPlan,
  fleet: SimulatedFleet,
  scenario: Scenario,
): SimulationOutput {
  const report = buildReport({
    run: res.run,
    hosts: res.hosts,
    attempts: res.attempts,
    events: res.events,
    steps: loaded.plan.steps.map((s) => s.name),
    // From the world's moves, not the attempts' results: a move whose attempt's coordinator was
    // killed (no result stored) happened all the same.
    workloadDowntime: moveDowntimes(res.ledger, new Map(fleet.workloads.map((w) => [w.id, w.host]))),
  });
  return {
    report,
    invariants: res.invariants,
    simulation: {
      seed: scenario.seed,
      coordinators: res.coordinators,
      virtualMs: res.virtualMs,
      hosts: res.hosts.length,
      workloads: fleet.workloads.length,
      unfinished: res.unfinished ?? null,
      fleet: fleet.source,
    },
  };
}

/** The files `--report DIR` holds. */
export const REPORT_FILES = ["report.json", "report.md", "report.html", "report.txt"] as const;

/**
 * Before simulating: `--report DIR` is created if needed and can take the reports; a file, a
 * directory that cannot be created or written, or a report name taken by a directory is an input
 * error at once, not after the whole simulation. Returns the directory it created, if any.
 */
export function prepareReports(dir: string): Promise<string | undefined> {
  return prepareReportDir({ flag: "--report", dir }, REPORT_FILES);
}

/** The four reports, written as one set: all of them new, or (on failure) none replaced. */
export async function writeReports(dir: string, output: SimulationOutput): Promise<string[]> {
  return writeFileSet({ flag: "--report", dir }, [
    ["report.json", canonicalJson(output)],
    ["report.md", renderReport(output.report, "md")],
    ["report.html", renderReport(output.report, "html")],
    ["report.txt", renderReport(output.report, "text")],
  ]);
}

/**
 * After the run, once its outcome is printed (`--json` included): the reports. A failure to write
 * them is said on stderr and never hides the run's outcome: exit 3 or 5 stands; a run that would
 * exit 0 exits 2 instead, since the reports asked for are missing. Returns the exit code.
 */
export async function saveReports(
  out: Out,
  dir: string,
  output: SimulationOutput,
  code: number,
): Promise<{ code: number; files?: string[] }> {
  try {
    return { code, files: await writeReports(dir, output) };
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    const kept = code === EXIT.ok ? EXIT.invalidInput : code;
    out.err(`overhaul: ${e.message}\n`);
    out.err(
      kept === code
        ? `(the run's own outcome stands: exit ${code})\n`
        : `(the run itself succeeded: exit ${kept} only because the reports could not be written)\n`,
    );
    return { code: kept };
  }
}

export function exitOf(res: SimulationResult): number {
  if (!res.invariants.ok) return EXIT.invariant;
  if (res.unfinished !== undefined) return EXIT.runFailed;
  return res.run.state === "succeeded" ? EXIT.ok : EXIT.runFailed;
}

/** `4 host(s) holding 8 of the fleet's 16 workloads`: the opening and closing lines count alike. */
export function hostsAndWorkloads(fleet: SimulatedFleet, scope: readonly { name: string }[]): string {
  const names = new Set(scope.map((h) => h.name));
  const held = fleet.workloads.filter((w) => names.has(w.host)).length;
  return `${scope.length} host(s) holding ${held} of the fleet's ${fleet.workloads.length} workloads`;
}

/** The end of a simulation on the terminal: invariants, then the report's text summary. */
export function printOutcome(
  out: Out,
  output: SimulationOutput,
  res: SimulationResult,
  fleet: SimulatedFleet,
): void {
  const inv = res.invariants;
  out.err(`\n${renderReport(output.report, "text", (style, s) => paint(out, style, s))}`);
  if (res.unfinished) out.err(`${paint(out, "yellow", "unfinished:")} ${res.unfinished}\n`);
  if (inv.ok) {
    out.err(`${paint(out, "green", "invariants hold:")} ${describeHeld(inv.checked)}\n`);
  } else {
    out.err(`${paint(out, "red", `${inv.violations.length} invariant violation(s):`)}\n`);
    for (const v of inv.violations.slice(0, 20)) out.err(`  ${v.invariant}: ${v.message}\n`);
    if (inv.violations.length > 20) out.err(`  … and ${inv.violations.length - 20} more (see --json)\n`);
  }
  out.err(
    `simulated ${hostsAndWorkloads(
      fleet,
      res.hosts.map((h) => ({ name: h.host })),
    )} in ${formatVirtual(res.virtualMs)} of virtual time; ${res.coordinators} coordinator(s)\n`,
  );
}

export function formatVirtual(ms: number): string {
  const m = Math.round(ms / 60_000);
  return m >= 60 ? `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m` : `${m}m`;
}

export async function loadScenario(file: string | undefined, seed: number | undefined): Promise<Scenario> {
  return (await loadScenarioSource(file, seed)).scenario;
}

/** The scenario (`--seed` overriding its seed) with where its parts are written, to locate later problems. */
export async function loadScenarioSource(
  file: string | undefined,
  seed: number | undefined,
): Promise<ScenarioSource> {
  const source =
    file === undefined
      ? { scenario: defaultScenario(), file: "(scenario)", placeOf: () => undefined }
      : readScenario(await readUserFile(file, "scenario"), file);
  return seed === undefined ? source : { ...source, scenario: { ...source.scenario, seed } };
}

/**
 * The scenario's failures that cannot happen in this run: all their hosts outside the scope, or
 * timed past the time limit (counted from the first window's opening, as the runner counts it).
 * Warnings, not errors: a scenario may be shared by several plans and scopes.
 */
export function failuresOutOfReach(
  source: ScenarioSource,
  fleet: SimulatedFleet,
  scope: readonly Host[],
  schedule?: RunSchedule,
): Problem[] {
  const openings = Object.values(schedule?.opensAt ?? {});
  const waitMs = openings.length > 0 ? Math.max(0, Math.min(...openings) - SIM_START) : 0;
  return unreachableFailures(
    source.scenario,
    { hosts: fleet.hosts, scope, limitMs: waitMs + SIM_LIMIT_MS, waitMs },
    source.file,
    source.placeOf,
  );
}

/** `simulateRun` with the live progress of `overhaul run` (times are simulated). */
export async function simulateWithProgress(
  out: Out,
  quiet: boolean,
  input: Omit<SimulationInput, "sink">,
): Promise<SimulationResult> {
  const progress = new Progress(
    out,
    input.scope.map((h) => ({ host: h.name, state: "pending" as const })),
    input.clock.now(),
    quiet,
  );
  try {
    return await simulateRun({ ...input, sink: progress });
  } finally {
    progress.stop();
  }
}

export async function simulateCommand(planFile: string, opts: SimulateOptions): Promise<number> {
  const out = makeOut({ noColor: opts.noColor });
  checkWindowFlags(opts, "with-history");
  const loaded = await loadPlanFile(planFile);
  const source = await loadScenarioSource(opts.scenario, opts.seed);
  const { scenario } = source;
  const fleet = await buildSimFleet(opts, scenario.seed, out);
  checkScenarioTargets(scenario, fleet.hosts, source.file, source.placeOf);
  const hosts = simScope(fleet, loaded, opts.limit);
  const quiet = opts.json === true || opts.quiet === true;
  // The windows are searched from when the simulation starts; the run waits for each opening.
  const windows =
    opts.history !== undefined
      ? plannerWindows(
          (
            await chooseWindows(
              hosts,
              { ...opts, history: opts.history },
              { at: SIM_START, what: "the simulation" },
            )
          ).windows,
          SIM_START,
        )
      : undefined;
  const schedule = opts.schedule
    ? runScheduleOf(
        scheduleFor({
          loaded,
          fleet,
          scope: hosts,
          scenario,
          order: parseOrder(opts.order),
          seed: loaded.plan.seed ?? scenario.seed,
          startAt: SIM_START,
          ...(windows ?? {}),
        }),
      )
    : undefined;
  const runId = simulationId(loaded, fleet, hosts, scenario, schedule);
  const warnings = failuresOutOfReach(source, fleet, hosts, schedule);
  const createdDir = opts.report !== undefined ? await prepareReports(opts.report) : undefined;
  const { store, where } = await openSimStore(opts.db, runId).catch(async (e: unknown) => {
    if (opts.report !== undefined) await removeCreated(opts.report, createdDir);
    throw e;
  });
  try {
    const clock = simClock();
    if (!quiet) {
      const never = warnings.length > 0 ? ` (${warnings.length} can never happen here, see below)` : "";
      out.err(
        `simulating plan ${loaded.plan.name} on ${hostsAndWorkloads(fleet, hosts)}, seed ${scenario.seed}, ${scenario.failures.length} injected failure(s)${never}\n`,
      );
    }
    warnAll(out, warnings);
    const res = await simulateWithProgress(out, quiet, {
      loaded,
      hosts: fleet.hosts,
      scope: hosts,
      workloads: fleet.workloads,
      scenario,
      store,
      clock,
      runId,
      maxVirtualMs: SIM_LIMIT_MS,
      ...(schedule !== undefined ? { schedule } : {}),
      options: { planFile, ...fleet.source, ...(opts.scenario ? { scenario: opts.scenario } : {}) },
    });
    const output: SimulationOutput = { ...simulationOutput(res, loaded, fleet, scenario), warnings };
    if (opts.json) out.write(canonicalJson(output));
    else printOutcome(out, output, res, fleet);
    let code = exitOf(res);
    if (opts.report !== undefined) {
      const saved = await saveReports(out, opts.report, output, code);
      code = saved.code;
      if (saved.files && !quiet) out.err(`reports written: ${saved.files.join(", ")}\n`);
    }
    if (!opts.json && where !== ":memory:")
      out.err(`stored in ${where}: \`overhaul report --db ${where} ${runId}\` shows it again\n`);
    return code;
  } finally {
    await store.close();
  }
}
