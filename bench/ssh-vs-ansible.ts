/**
 * Benchmark "ssh-vs-ansible": the same rolling operation on the same real OpenSSH hosts, with
 * `ansible-playbook` and with `overhaul run`, side by side; wall time of each and their ratio.
 * Goal: Overhaul >= 3x faster.
 *
 * The hosts: 20 real `sshd` instances on loopback (test/support/sshd-fleet.ts, shared with the
 * SSH end-to-end suite: tsconfig.bench.json compiles what the bench imports, test/support too).
 * The operation, per host, in batches of 10: check the config, back up the version file, bump
 * the version, verify it (four shell commands; no reboot).
 * - Ansible: one play, `serial: 10`, `forks = 10`, `gather_facts: false`, the `shell` module,
 *   pipelining on, SSH ControlMaster/ControlPersist (Ansible's defaults), strict host key
 *   checking against the fleet's known_hosts, `interpreter_python` set (no discovery).
 * - Overhaul: waves of 50 % and 100 % (10 + 10 hosts), `concurrency.global: 10`, the built CLI
 *   (`overhaul run plan.yaml -i inventory.ini --all --ssh-known-hosts FILE -q`) with its SQLite
 *   store: durable commits for every step, as a user runs it.
 *
 * Invariants:
 * - Each side runs as a fresh process per sample, timed from spawn to exit: start-up is part of
 *   what a user waits for, on both sides. Ansible's SSH control masters are closed after each
 *   sample (a fresh control path per sample), so no sample reuses another's connections.
 * - Samples alternate the order (ansible first, then overhaul first) so machine noise hits both;
 *   one untimed warm-up of each first; medians reported.
 * - Every sample sets a new version and checks afterwards that every host has it and its backup;
 *   a sample that did not do the work fails the benchmark.
 * - Talks only to loopback. Without sshd or ansible-playbook the benchmark says why and records
 *   nothing.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { SshdFleet, sshdAvailability } from "../test/support/sshd-fleet.js";
import { median, round } from "./results.js";

export const NAME = "ssh-vs-ansible";
export const GOAL_RATIO = 3;
const ANSIBLE_PLAYBOOK = "ansible-playbook";
const OVERHAUL_CLI = fileURLToPath(new URL("./overhaul-cli.js", import.meta.url));

export interface SshVsAnsibleConfig {
  rounds: number;
  hosts: number;
  /** Hosts per batch: Ansible's `serial` and `forks`; Overhaul's wave size and concurrency. */
  batch: number;
}

export const DEFAULT_SSH_VS_ANSIBLE: Omit<SshVsAnsibleConfig, "rounds"> = { hosts: 20, batch: 10 };

/** The operation: [task name, shell command]; `VERSION` and `TAG` are replaced per sample. */
const TASKS: readonly (readonly [string, string])[] = [
  ["check-config", `grep -q '^workers = [0-9][0-9]*$' "$STATE_DIR/app.conf"`],
  ["backup", `cp "$STATE_DIR/version" "$STATE_DIR/backups/version.TAG"`],
  ["bump-version", `echo VERSION > "$STATE_DIR/version"`],
  ["verify", `grep -qx VERSION "$STATE_DIR/version"`],
];

function commands(version: string, tag: string): [string, string][] {
  return TASKS.map(([n, c]) => [n, c.replace(/VERSION/g, version).replace(/TAG/g, tag)]);
}

export interface Sample {
  round: number;
  ansibleMs: number;
  overhaulMs: number;
  ratio: number;
  order: "ansible-first" | "overhaul-first";
}

export interface SshVsAnsibleResult {
  ansibleVersion: string;
  sshdVersion: string;
  python: string;
  rounds: Sample[];
  median: { ansibleMs: number; overhaulMs: number; ratio: number; ratioOfMedians: number };
  goal: { ratio: number; met: boolean };
}

/** Why the benchmark cannot run here, or undefined when it can. */
export function unavailable(): string | undefined {
  const s = sshdAvailability();
  if (!s.ok) return s.reason;
  const a = spawnSync(ANSIBLE_PLAYBOOK, ["--version"], { encoding: "utf8", timeout: 30_000 });
  if (a.error || a.status !== 0) return "ansible-playbook is missing (apt-get install ansible-core)";
  return undefined;
}

function firstLine(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 30_000 });
  return `${r.stdout ?? ""}${r.stderr ?? ""}`.trim().split("\n")[0] ?? "unknown";
}

function timed(
  cmd: string,
  args: string[],
  opts: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number },
): Promise<{ ms: number; code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d: Buffer) => {
      output += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      output += d.toString();
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ ms: performance.now() - t0, code, output });
    });
  });
}

function ansibleFiles(dir: string, fleet: SshdFleet, cfg: SshVsAnsibleConfig): void {
  mkdirSync(join(dir, "local-tmp"), { recursive: true });
  writeFileSync(
    join(dir, "ansible.cfg"),
    [
      "[defaults]",
      `forks = ${cfg.batch}`,
      "host_key_checking = True",
      "gathering = explicit",
      "interpreter_python = /usr/bin/python3",
      "retry_files_enabled = False",
      "nocolor = True",
      `local_tmp = ${join(dir, "local-tmp")}`,
      "",
      "[ssh_connection]",
      "pipelining = True",
      // Ansible's default ssh_args, plus the fleet's known_hosts (strict checking, as Overhaul).
      `ssh_args = -F ${fleet.sshConfig} -C -o ControlMaster=auto -o ControlPersist=60s ` +
        `-o UserKnownHostsFile=${fleet.knownHosts} -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes`,
      "",
    ].join("\n"),
  );
}

function playbook(cfg: SshVsAnsibleConfig, version: string, tag: string): string {
  const tasks = commands(version, tag)
    .map(([n, c]) => `    - name: ${n}\n      ansible.builtin.shell: ${JSON.stringify(c)}\n`)
    .join("");
  return `- name: rolling operation (bench)
  hosts: fleet
  serial: ${cfg.batch}
  gather_facts: false
  tasks:
${tasks}`;
}

function plan(cfg: SshVsAnsibleConfig, version: string, tag: string): string {
  const pct = Math.min(100, (cfg.batch / cfg.hosts) * 100);
  const waves: string[] = [];
  for (let p = pct; p < 100; p += pct) waves.push(`  - { percent: ${round(p, 4)} }`);
  waves.push("  - { percent: 100 }");
  const steps = commands(version, tag)
    .map(
      ([n, c]) => `  - name: ${n}\n    kind: command\n    run: ${JSON.stringify(c)}\n    idempotent: true\n`,
    )
    .join("");
  return `name: bench-rolling
hosts: fleet
waves:
${waves.join("\n")}
concurrency: { global: ${cfg.batch} }
steps:
${steps}`;
}

/** Close Ansible's ControlPersist masters of one sample (they would otherwise idle for 60 s). */
function closeControlMasters(cpDir: string): void {
  if (!existsSync(cpDir)) return;
  for (const f of readdirSync(cpDir)) {
    spawnSync("ssh", ["-o", `ControlPath=${join(cpDir, f)}`, "-O", "exit", "bench-control-master"], {
      stdio: "ignore",
      timeout: 5_000,
    });
  }
}

function check(fleet: SshdFleet, version: string, tag: string, who: string, output: string): void {
  for (const h of fleet.hosts) {
    const v = fleet.readLocal(h.name, "version")?.trim();
    const backup = fleet.readLocal(h.name, `backups/version.${tag}`);
    if (v !== version || backup === undefined) {
      throw new Error(
        `${who}: host ${h.name} has version ${v ?? "?"} (expected ${version})` +
          `${backup === undefined ? " and no backup" : ""}; output:\n${output.slice(-3000)}`,
      );
    }
  }
}

export async function runSshVsAnsible(
  scratch: string,
  cfg: SshVsAnsibleConfig,
  log: (line: string) => void,
): Promise<SshVsAnsibleResult> {
  const fleet = await SshdFleet.start({ hosts: cfg.hosts });
  try {
    // Neither side uses the runner's SSH agent or ~/.ssh/config: the inventory names the key.
    const env = {
      ...process.env,
      SSH_AUTH_SOCK: "",
      NO_COLOR: "1",
      ANSIBLE_NOCOLOR: "1",
      ANSIBLE_FORCE_COLOR: "0",
    };
    let seq = 0;
    const sample = async (side: "ansible" | "overhaul", timedRun: boolean): Promise<number> => {
      seq++;
      const version = `${side}-${seq}`;
      const tag = `${side}-${seq}`;
      const dir = join(scratch, `${seq}-${side}`);
      mkdirSync(dir, { recursive: true });
      let r: { ms: number; code: number | null; output: string };
      if (side === "ansible") {
        ansibleFiles(dir, fleet, cfg);
        const cp = join(dir, "cp");
        mkdirSync(cp);
        writeFileSync(join(dir, "playbook.yml"), playbook(cfg, version, tag));
        try {
          r = await timed(ANSIBLE_PLAYBOOK, ["-i", fleet.inventory, "playbook.yml"], {
            cwd: dir,
            env: { ...env, ANSIBLE_CONFIG: join(dir, "ansible.cfg"), ANSIBLE_SSH_CONTROL_PATH_DIR: cp },
            timeoutMs: 600_000,
          });
        } finally {
          closeControlMasters(cp);
        }
      } else {
        writeFileSync(join(dir, "plan.yaml"), plan(cfg, version, tag));
        r = await timed(
          process.execPath,
          [
            OVERHAUL_CLI,
            "run",
            "plan.yaml",
            "-i",
            fleet.inventory,
            "--all",
            "--ssh-known-hosts",
            fleet.knownHosts,
            "--ssh-config",
            fleet.sshConfig,
            "-q",
          ],
          { cwd: dir, env, timeoutMs: 600_000 },
        );
      }
      if (r.code !== 0) throw new Error(`${side} exited ${r.code}:\n${r.output.slice(-3000)}`);
      check(fleet, version, tag, side, r.output);
      rmSync(dir, { recursive: true, force: true });
      if (timedRun) log(`    ${side}: ${(r.ms / 1000).toFixed(2)} s`);
      return r.ms;
    };

    log("  warm-up (untimed): ansible, overhaul");
    await sample("ansible", false);
    await sample("overhaul", false);
    const rounds: Sample[] = [];
    for (let i = 0; i < cfg.rounds; i++) {
      const ansibleFirst = i % 2 === 0;
      log(`  round ${i + 1}/${cfg.rounds} (${ansibleFirst ? "ansible" : "overhaul"} first)`);
      let ansibleMs: number;
      let overhaulMs: number;
      if (ansibleFirst) {
        ansibleMs = await sample("ansible", true);
        overhaulMs = await sample("overhaul", true);
      } else {
        overhaulMs = await sample("overhaul", true);
        ansibleMs = await sample("ansible", true);
      }
      rounds.push({
        round: i + 1,
        ansibleMs: round(ansibleMs),
        overhaulMs: round(overhaulMs),
        ratio: round(ansibleMs / overhaulMs, 2),
        order: ansibleFirst ? "ansible-first" : "overhaul-first",
      });
    }
    const m = {
      ansibleMs: round(median(rounds.map((r) => r.ansibleMs))),
      overhaulMs: round(median(rounds.map((r) => r.overhaulMs))),
      ratio: round(median(rounds.map((r) => r.ratio)), 2),
      ratioOfMedians: 0,
    };
    m.ratioOfMedians = round(m.ansibleMs / m.overhaulMs, 2);
    return {
      ansibleVersion: firstLine(ANSIBLE_PLAYBOOK, ["--version"]),
      sshdVersion: fleet.sshdVersion,
      python: firstLine("/usr/bin/python3", ["--version"]),
      rounds,
      median: m,
      goal: { ratio: GOAL_RATIO, met: m.ratio >= GOAL_RATIO },
    };
  } finally {
    await fleet.close();
  }
}

export function summarizeSshVsAnsible(r: SshVsAnsibleResult): string[] {
  const m = r.median;
  return [
    `  ${r.ansibleVersion}; ${r.sshdVersion}; ${r.python}`,
    `  median: ansible-playbook ${(m.ansibleMs / 1000).toFixed(2)} s, overhaul ${(m.overhaulMs / 1000).toFixed(2)} s, ` +
      `ratio ${m.ratio.toFixed(2)}x (ratio of medians ${m.ratioOfMedians.toFixed(2)}x; rounds ` +
      `${Math.min(...r.rounds.map((x) => x.ratio)).toFixed(2)}x to ${Math.max(...r.rounds.map((x) => x.ratio)).toFixed(2)}x)`,
    r.goal.met
      ? `  GOAL MET: Overhaul ${m.ratio.toFixed(2)}x faster >= ${GOAL_RATIO}x`
      : `  GOAL NOT MET: Overhaul ${m.ratio.toFixed(2)}x faster < ${GOAL_RATIO}x`,
  ];
}

export const ANSIBLE_SETUP = {
  serial: "batch",
  forks: "batch",
  gatherFacts: false,
  module: "ansible.builtin.shell",
  pipelining: true,
  controlPersist:
    "ControlMaster=auto, ControlPersist=60s (Ansible's default ssh_args), closed after each sample",
  hostKeyChecking: "strict, the fleet's known_hosts",
  interpreter: "/usr/bin/python3 (no discovery)",
};

export const OVERHAUL_SETUP = {
  command: "overhaul run plan.yaml -i inventory.ini --all --ssh-known-hosts FILE --ssh-config EMPTY -q",
  entry: "dist-bench/bench/overhaul-cli.js (bin/overhaul.js's entry on the bench build)",
  waves: "batch/hosts percent steps (10 + 10)",
  concurrency: "global = batch",
  store: "SQLite (the CLI's default .overhaul/overhaul.db in a fresh directory per sample)",
  transport: "SSH (ssh2), strict host key checking, the fleet's known_hosts",
};

export const TASK_COMMANDS = TASKS.map(([n, c]) => ({ name: n, command: c }));
