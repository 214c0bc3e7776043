/**
 * `overhaul demo`: the simulator's showcase, with nothing to set up. A generated 3-region fleet
 * with hold-overs and workloads gets the rolling reboot of examples/demo/plan.yaml, with the
 * failures of examples/demo/scenario.yaml (one host never returns and is rolled back; one upgrade
 * fails once and succeeds on retry), live progress in compressed time, and the reports.
 *
 * Invariants:
 * - The same engine and simulator as `overhaul simulate`, on its default SQLite store;
 *   only the clock is paced (about a virtual minute per 40 ms) so the progress can be watched.
 * - Exit 0 when every invariant holds (the injected failures are expected), 5 when one breaks.
 */
import { fileURLToPath } from "node:url";
import { canonicalJson } from "../../core/report/index.js";
import { loadPlanFile } from "../compose.js";
import { EXIT } from "../exit-codes.js";
import { makeOut, paint } from "../output.js";
import { removeCreated } from "../report-files.js";
import {
  buildSimFleet,
  failuresOutOfReach,
  loadScenarioSource,
  openSimStore,
  prepareReports,
  printOutcome,
  SIM_LIMIT_MS,
  type SimulationOutput,
  saveReports,
  simClock,
  simScope,
  simulateWithProgress,
  simulationId,
  simulationOutput,
} from "./simulate.js";

export const DEMO_FLEET = "regions=3,hosts=6,holdovers=0.34,racks=2,workloads=4,seed=7";
const EXAMPLES = fileURLToPath(new URL("../../../examples/demo/", import.meta.url));
/** Real milliseconds per virtual minute when paced. */
const PACE_MS_PER_MINUTE = 40;

export interface DemoOptions {
  seed?: number;
  report: string;
  fast?: boolean;
  json?: boolean;
  noColor?: boolean;
  /** A SQLite file to keep the run in (e.g. one `overhaul serve` watches); default: its own file. */
  db?: string;
}

export async function demoCommand(opts: DemoOptions): Promise<number> {
  const out = makeOut({ noColor: opts.noColor });
  const planFile = `${EXAMPLES}plan.yaml`;
  const scenarioFile = `${EXAMPLES}scenario.yaml`;
  const loaded = await loadPlanFile(planFile);
  const source = await loadScenarioSource(scenarioFile, opts.seed);
  const { scenario } = source;
  const fleet = await buildSimFleet({ fleet: DEMO_FLEET }, scenario.seed, out);
  const hosts = simScope(fleet, loaded);
  const warnings = failuresOutOfReach(source, fleet, hosts);
  const quiet = opts.json === true;
  if (!quiet) {
    out.err(
      `${paint(out, "bold", "overhaul demo")}: rolling reboot of ${hosts.length} workers in 3 regions, ${fleet.workloads.length} workloads drained onto ${fleet.hosts.length - hosts.length} hold-overs and put back\n` +
        `injected: r02-h003 never comes back from its reboot; r03-h002's upgrade fails once\n` +
        `simulated time runs about ${Math.round(60_000 / PACE_MS_PER_MINUTE)}x faster than real time${opts.fast ? " (--fast: unpaced)" : ""}\n\n`,
    );
  }
  const clock = simClock();
  if (!opts.fast && !quiet) {
    // Many jumps are a few virtual ms (command latencies): add them up and wait once there is
    // enough to wait for, so timer granularity does not stretch the demo.
    let owed = 0;
    clock.pace((virtualMs) => {
      owed += (virtualMs / 60_000) * PACE_MS_PER_MINUTE;
      if (owed < 15) return 0;
      const wait = Math.min(400, owed);
      owed = 0;
      return wait;
    });
  }
  const runId = simulationId(loaded, fleet, hosts, scenario);
  const createdDir = await prepareReports(opts.report);
  // A served database may hold real runs: the demo's run is put there to be watched next to them.
  const { store, where } = await openSimStore(opts.db, runId, { withRealRuns: true }).catch(
    async (e: unknown) => {
      await removeCreated(opts.report, createdDir);
      throw e;
    },
  );
  try {
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
      options: { demo: true, planFile: "examples/demo/plan.yaml", fleet: DEMO_FLEET },
    });
    const output: SimulationOutput = { ...simulationOutput(res, loaded, fleet, scenario), warnings };
    if (opts.json) out.write(canonicalJson(output));
    else printOutcome(out, output, res, fleet);
    const saved = await saveReports(out, opts.report, output, res.invariants.ok ? EXIT.ok : EXIT.invariant);
    if (!opts.json) {
      out.err(
        `\n${saved.files ? `reports: ${saved.files.join(", ")}\nopen ${opts.report}/report.html in a browser for the timeline; ` : ""}\`overhaul report --db ${where} ${runId}\` shows this run again\n` +
          `try your own: npx overhaul simulate examples/demo/plan.yaml --fleet ${DEMO_FLEET} --scenario examples/demo/scenario.yaml\n`,
      );
    }
    return saved.code;
  } finally {
    await store.close();
  }
}
