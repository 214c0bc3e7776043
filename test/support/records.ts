/**
 * Records for tests that build them by hand: a run and its host flows with the defaults of a run
 * just created (running, wave 0; hosts pending at the first step), and an SSH host, each
 * overridable field by field.
 */
import { NOT_STARTED } from "../../src/core/flow/run-setup.js";
import type { Host } from "../../src/core/model/fleet.js";
import type { NewHostFlow, NewRun } from "../../src/ports/store.js";

export function runRecord(fields: Partial<NewRun> & Pick<NewRun, "id" | "createdAt">): NewRun {
  return {
    planName: "p",
    planRevision: 1,
    planHash: "h",
    state: "running",
    currentWave: 0,
    seed: 1,
    options: {},
    reason: null,
    updatedAt: fields.createdAt,
    ...fields,
  };
}

export function hostFlowRecord(
  fields: Partial<NewHostFlow> & Pick<NewHostFlow, "runId" | "host" | "order">,
): NewHostFlow {
  return { wave: 0, data: {}, ...NOT_STARTED, ...fields };
}

/** An SSH host `web01` (at web01.example.com) with these variables and fields. */
export function sshHost(vars: Record<string, unknown> = {}, over: Partial<Host> = {}): Host {
  return {
    name: "web01",
    address: "web01.example.com",
    connection: "ssh",
    region: "eu",
    failureDomains: {},
    role: "worker",
    groups: [],
    vars,
    ...over,
  };
}
