import { join, relative } from "node:path";
import { conditions, type MachineInfo, type RepoInfo, withScratchDir } from "./machine.js";
import { RESULTS_SCHEMA, saveResult } from "./results.js";
import {
  DEFAULT_SSH_SESSIONS,
  GOAL_P50_MS,
  runSshSessions,
  NAME as SSH_SESSIONS,
  type SshSessionsConfig,
  summarizeSshSessions,
} from "./ssh-sessions.js";
import {
  ANSIBLE_SETUP,
  DEFAULT_SSH_VS_ANSIBLE,
  GOAL_RATIO,
  OVERHAUL_SETUP,
  runSshVsAnsible,
  NAME as SSH_VS_ANSIBLE,
  type SshVsAnsibleConfig,
  summarizeSshVsAnsible,
  TASK_COMMANDS,
  unavailable,
} from "./ssh-vs-ansible.js";

export type { SshSessionsConfig, SshVsAnsibleConfig };
export { DEFAULT_SSH_SESSIONS, DEFAULT_SSH_VS_ANSIBLE, SSH_SESSIONS, SSH_VS_ANSIBLE };

export interface SshRunContext {
  root: string;
  save: boolean;
  machine: MachineInfo;
  repo: RepoInfo;
}

const gib = (bytes: number) => `${(bytes / 2 ** 30).toFixed(1)} GiB`;

function printMachine(machine: MachineInfo): void {
  console.log(
    `  machine: ${machine.cpuModel}, ${machine.cores} cores, ${gib(machine.memoryBytes)}, ` +
      `${machine.platform} ${machine.osRelease}, node ${machine.node}`,
  );
}

export async function sshVsAnsible(ctx: SshRunContext, cfg: SshVsAnsibleConfig): Promise<void> {
  const { root, save, machine, repo } = ctx;
  console.log(
    `${SSH_VS_ANSIBLE}: the same rolling operation on real sshd hosts, ansible-playbook vs overhaul run`,
  );
  const why = unavailable();
  if (why !== undefined) {
    console.log(`  skipped: ${why}; nothing recorded`);
    return;
  }
  printMachine(machine);
  console.log(
    `  ${cfg.hosts} sshd hosts on loopback, batches of ${cfg.batch}, ${TASK_COMMANDS.length} commands per host, ` +
      `${cfg.rounds} rounds (alternating order)`,
  );
  const date = new Date();
  const before = conditions();
  const result = await withScratchDir(root, ({ dir }) => runSshVsAnsible(dir, cfg, (l) => console.log(l)));
  const after = conditions();
  for (const line of summarizeSshVsAnsible(result)) console.log(line);
  if (!save) return;
  const doc = {
    schema: RESULTS_SCHEMA,
    benchmark: SSH_VS_ANSIBLE,
    date: date.toISOString(),
    machine,
    repo,
    config: {
      ...cfg,
      goalRatio: GOAL_RATIO,
      tasks: TASK_COMMANDS,
      hostsAre:
        "real OpenSSH sshd instances on 127.0.0.11.. (test/support/sshd-fleet.ts), one port, own host keys",
      ansible: ANSIBLE_SETUP,
      overhaul: OVERHAUL_SETUP,
      timing: "wall time from spawn to exit of each side's process; one untimed warm-up each",
      pythonDontWriteBytecode: process.env.PYTHONDONTWRITEBYTECODE ?? null,
    },
    conditions: { before, after },
    ...result,
  };
  const path = await saveResult(join(root, "bench", "results"), SSH_VS_ANSIBLE, date, doc);
  console.log(`  results: ${relative(process.cwd(), path)} (and bench/results/latest.json)`);
}

export async function sshSessions(ctx: SshRunContext, cfg: SshSessionsConfig): Promise<void> {
  const { root, save, machine, repo } = ctx;
  console.log(`${SSH_SESSIONS}: one SSH transport holding many sessions; per-command overhead`);
  printMachine(machine);
  console.log(
    `  ${cfg.hosts} in-process ssh2 hosts x ${cfg.channelsPerHost} held sessions = ` +
      `${cfg.hosts * cfg.channelsPerHost}; ${cfg.commands} trivial commands one at a time, ${cfg.bursts} bursts; ` +
      `${cfg.rounds} rounds`,
  );
  const date = new Date();
  const before = conditions();
  const result = await withScratchDir(root, ({ dir }) => runSshSessions(dir, cfg, (l) => console.log(l)));
  const after = conditions();
  for (const line of summarizeSshSessions(result, cfg)) console.log(line);
  if (!save) return;
  const doc = {
    schema: RESULTS_SCHEMA,
    benchmark: SSH_SESSIONS,
    date: date.toISOString(),
    machine,
    repo,
    config: {
      ...cfg,
      goalP50Ms: GOAL_P50_MS,
      heldSessions: cfg.hosts * cfg.channelsPerHost,
      hostsAre:
        "in-process ssh2 servers on 127.0.0.1 (startBenchHost in bench/ssh-sessions.ts), own ed25519 host " +
        "keys, strict known_hosts, TCP_NODELAY; exec answered at once with exit 0 (no process runs)",
      realSshdReference: "the same serial measurement against one real sshd of test/support/sshd-fleet.ts",
      transport: "createSshTransport (src/adapters/transport-ssh) with its default pool settings",
      trivialCommand: "`true`, answered with exit 0 at once",
      timing:
        "exec() call to result, performance.now(); serial = one at a time round-robin over the hosts; " +
        "burst = one command per held slot at once",
      warmup: "one untimed small round (4 hosts)",
    },
    conditions: { before, after },
    ...result,
  };
  const path = await saveResult(join(root, "bench", "results"), SSH_SESSIONS, date, doc);
  console.log(`  results: ${relative(process.cwd(), path)} (and bench/results/latest.json)`);
}
