/**
 * The set-up every suite on a real sshd fleet shares: in its `describe`, start the fleet and a
 * scratch directory before the tests (failing when sshd is missing: such suites are skipped
 * before this runs, except under CI=true, where a missing sshd is a failure), stop and remove them
 * after. Kept apart from sshd-fleet.ts, which benchmarks import without vitest.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";
import { SshdFleet, type SshdFleetOptions, sshdAvailability } from "./sshd-fleet.js";

export function useSshdFleet(
  options: SshdFleetOptions,
  workPrefix: string,
  got: (fleet: SshdFleet, work: string) => void,
): void {
  let fleet: SshdFleet | undefined;
  let work: string | undefined;
  beforeAll(async () => {
    const avail = sshdAvailability();
    if (!avail.ok) throw new Error(`${avail.reason}; CI=true requires it`);
    work = mkdtempSync(join(tmpdir(), workPrefix));
    fleet = await SshdFleet.start(options);
    got(fleet, work);
  });
  afterAll(async () => {
    await fleet?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });
}
