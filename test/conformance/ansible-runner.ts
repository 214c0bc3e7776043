/**
 * Running the real `ansible-inventory` for conformance tests.
 *
 * Invariants:
 * - Ansible runs in a throwaway directory with its own HOME, ANSIBLE_HOME, temp dir and an empty
 *   config file, so nothing is read from or written into the repository or the user's home.
 * - Unparsable sources make Ansible fail (instead of its default: warn and carry on with a partial
 *   inventory), so "Ansible accepts this" is a real statement.
 * - Availability is checked once; callers decide whether a missing Ansible skips or fails.
 */
import { execFile, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";

export const ANSIBLE_INVENTORY = "ansible-inventory";

/** The `ansible-inventory --version` first line, or undefined when it cannot run. */
export function ansibleVersion(): string | undefined {
  const box = new AnsibleSandbox();
  try {
    const r = spawnSync(ANSIBLE_INVENTORY, ["--version"], {
      encoding: "utf8",
      timeout: 60_000,
      env: box.env,
      cwd: box.dir,
    });
    if (r.error || r.status !== 0) return undefined;
    return r.stdout.split("\n")[0]?.trim();
  } finally {
    box.dispose();
  }
}

export interface AnsibleResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export class AnsibleSandbox {
  readonly dir = mkdtempSync(join(tmpdir(), "overhaul-ansible-"));
  readonly env: NodeJS.ProcessEnv;
  /** Concurrent runs: enough to overlap Python's start-up, not so many that they thrash. */
  private readonly slots = Math.max(2, availableParallelism() * 2);
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor() {
    const config = join(this.dir, "ansible.cfg");
    writeFileSync(config, "[defaults]\n");
    this.env = {
      PATH: process.env.PATH,
      LANG: "C.UTF-8",
      LC_ALL: "C.UTF-8",
      HOME: this.dir,
      ANSIBLE_HOME: join(this.dir, "ansible-home"),
      ANSIBLE_LOCAL_TEMP: join(this.dir, "tmp"),
      ANSIBLE_CONFIG: config,
      ANSIBLE_LOCALHOST_WARNING: "False",
      ANSIBLE_INVENTORY_UNPARSED_WARNING: "False",
      ANSIBLE_INVENTORY_UNPARSED_FAILED: "True",
      ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED: "True",
      ANSIBLE_DEPRECATION_WARNINGS: "False",
      ANSIBLE_NOCOLOR: "True",
      PYTHONDONTWRITEBYTECODE: "1",
    };
  }

  /** `ansible-inventory -i PATH --list`. */
  async list(path: string): Promise<AnsibleResult> {
    if (this.running >= this.slots) await new Promise<void>((r) => this.waiting.push(r));
    this.running++;
    try {
      return await this.run(path);
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }

  private run(path: string): Promise<AnsibleResult> {
    return new Promise((resolve) => {
      execFile(
        ANSIBLE_INVENTORY,
        ["-i", path, "--list"],
        { cwd: this.dir, env: this.env, timeout: 120_000, maxBuffer: 64 * 1024 * 1024 },
        (error, stdout, stderr) => {
          const code = error ? (typeof error.code === "number" ? error.code : null) : 0;
          resolve({ code, stdout, stderr });
        },
      );
    });
  }

  dispose(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
