/**
 * The `overhaul` command line. The only code that turns errors into exit codes; it never calls
 * process.exit itself (bin/overhaul.js sets process.exitCode), so output is always flushed.
 *
 * Exit codes (docs/cli.md): 0 success, 1 internal error (or an unreachable --server or
 * PostgreSQL), 2 invalid input, 3 run finished with failed or in-doubt hosts (or aborted), 4 refused
 * by a safety rule, 5 a simulation broke an invariant, 6 the server refused the token or its role,
 * 130 detached by Ctrl-C.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { formatProblem, InputError, OverhaulError } from "../core/errors.js";
import { MAX_SEED } from "../core/policy/random.js";
import { hostActionCommand, runActionCommand, statusCommand } from "./commands/control.js";
import { demoCommand } from "./commands/demo.js";
import { historyCommand } from "./commands/history.js";
import { inventoryListCommand, validateCommand } from "./commands/inspect.js";
import { DEFAULT_SAMPLES, planCommand } from "./commands/plan.js";
import {
  refuseLocalOnly,
  remoteHostAction,
  remoteResume,
  remoteRun,
  remoteRunAction,
  remoteStatus,
} from "./commands/remote-control.js";
import { reportCommand } from "./commands/report.js";
import { resumeCommand, runCommand } from "./commands/run.js";
import { serveCommand } from "./commands/serve.js";
import { simulateCommand } from "./commands/simulate.js";
import { tokenCreateCommand, tokenListCommand, tokenRevokeCommand } from "./commands/token.js";
import { EXIT, exitCodeOf } from "./exit-codes.js";
import { quietOnClosedPipes, writeTo } from "./output.js";
import { remoteOf } from "./remote.js";
import { DEFAULT_MAX_HOSTS } from "./scope.js";

function intArg(name: string) {
  return (v: string): number => {
    if (!/^\d+$/.test(v)) throw new InvalidArgumentError(`${name} must be a whole number, got "${v}"`);
    return Number(v);
  };
}

/** `--seed N`: 0..MAX_SEED, the seeds the PRNG tells apart (it keeps 32 bits; 4294967297 would be 1). */
function seedArg(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n > MAX_SEED)
    throw new InvalidArgumentError(
      `--seed must be a whole number 0..${MAX_SEED} (seeds are 32-bit), got "${v}"`,
    );
  return n;
}

/** The SSH flags of `run` and `resume` (docs/ssh.md). */
function sshFlags(cmd: Command): void {
  cmd
    .option(
      "--ssh-known-hosts <path>",
      "known_hosts file to check SSH host keys against (default ~/.ssh/known_hosts)",
    )
    .option(
      "--ssh-host-key-checking <mode>",
      "strict: refuse unknown and changed host keys; accept-new: record unknown ones, refuse changed ones",
      "strict",
    )
    .option(
      "--ssh-config <path>",
      "OpenSSH client config for Host entries (default ~/.ssh/config if it exists)",
    );
}

/** The window flags of `run --schedule` and `simulate --schedule` (`plan` words two of them its own way). */
function windowFlags(cmd: Command): void {
  cmd
    .option(
      "--history <file>",
      "with --schedule: utilization history (CSV or Prometheus JSON); each region waits for its window",
    )
    .option("--window <duration>", "with --history: the window's length (default 4h)");
  windowSearchFlags(cmd);
}

/** How a window is searched for in the history (`plan`, `run --schedule`, `simulate --schedule`). */
function windowSearchFlags(cmd: Command): Command {
  return cmd
    .option("--allowed-hours <range>", "with --history: local hours a window may use, e.g. 22-06")
    .option("--blackout <dates>", "with --history: local dates with no window, e.g. 2026-01-10,2026-01-11")
    .option("--from <time>", "with --history: earliest window start (ISO-8601; default: the history's end)")
    .option("--days <n>", "with --history: days ahead to look (default 7)", intArg("--days"))
    .option(
      "--region-label <label>",
      "with a Prometheus history: the label naming the region (default region)",
    );
}

/** The commands that act on `overhaul serve` with `--server` / OVERHAUL_SERVER (docs/cli.md). */
const REMOTE_COMMANDS = new Set(["run", "resume", "status", "report", "pause", "abort", "retry", "skip"]);

/** What the other commands work on instead, for the refusal of `--server`. */
const TOKENS = "it changes the database (--db) directly; run it where the server's database is";
const FILES = "it reads local files only";
const SIMULATES = "it simulates on this machine";
const LOCAL_ONLY_COMMANDS: Record<string, string> = {
  validate: FILES,
  "inventory list": FILES,
  plan: FILES,
  history: FILES,
  simulate: SIMULATES,
  demo: SIMULATES,
  serve: "it is the server; start it where its database is (--db)",
  "token create": TOKENS,
  "token list": "it reads the database (--db) directly; run it where the server's database is",
  "token revoke": TOKENS,
};

/** The long names of the options given on the command line (not defaults), the global `--db` too. */
function givenFlags(cmd: Command): string[] {
  const given = (c: Command, key: string) => {
    const source = c.getOptionValueSource(key);
    return source !== undefined && source !== "default";
  };
  const flags = cmd.options.filter((o) => given(cmd, o.attributeName())).map((o) => o.long ?? o.flags);
  if (cmd.parent && given(cmd.parent, "db")) flags.push("--db");
  return flags;
}

/** The command tree (exported for the docs check in test/docs-cli.test.ts). */
export function program(setCode: (n: number) => void): Command {
  const p = new Command("overhaul")
    .description("Fleet maintenance without downtime: durable, resumable rolling runs.")
    .version("0.1.0")
    .option("--db <path>", "database: SQLite file or postgres:// URL (env OVERHAUL_DB)", undefined)
    .option("--no-color", "no colour in output (also NO_COLOR)")
    .option(
      "--server <url>",
      "act on a running `overhaul serve` instead of the database (env OVERHAUL_SERVER; token in OVERHAUL_TOKEN)",
    )
    .showHelpAfterError("(run with --help for usage)")
    // Every error of the CLI starts `overhaul: `, flag and argument errors too (Commander: `error: `).
    .configureOutput({ outputError: (text, write) => write(text.replace(/^error: /, "overhaul: ")) })
    .exitOverride();
  // `--server` is never ignored: a command without a remote form refuses it (OVERHAUL_SERVER in
  // the environment is for the commands that have one; the others leave it alone).
  p.hook("preAction", (_p, action) => {
    if (p.opts().server === undefined) return;
    if (action.parent === p && REMOTE_COMMANDS.has(action.name())) return;
    const name = action.parent === p ? action.name() : `${action.parent?.name()} ${action.name()}`;
    throw new InputError({
      path: "--server",
      message: `overhaul ${name} does not act on a server: ${LOCAL_ONLY_COMMANDS[name] ?? "it works on this machine only"}`,
      expected: `overhaul ${name} without --server; only ${[...REMOTE_COMMANDS].join(", ")} take --server`,
    });
  });
  const g = (cmd: Command) => {
    const o = cmd.optsWithGlobals() as { db?: string; color?: boolean };
    return { db: o.db, noColor: o.color === false };
  };
  // The server to act on, if any; a flag the command cannot take through it is refused (exit 2).
  const remote = (cmd: Command) => {
    const r = remoteOf((cmd.optsWithGlobals() as { server?: string }).server);
    if (r) refuseLocalOnly(r, cmd.name(), givenFlags(cmd));
    return r;
  };

  p.command("validate")
    .description("check a plan (and its scope against an inventory); nothing is run")
    .argument("<plan>", "plan file (YAML)")
    .option("-i, --inventory <path>", "inventory to check the plan's hosts pattern against")
    .option("--json", "machine-readable output")
    .action(async (plan: string, o, cmd: Command) =>
      setCode(await validateCommand(plan, { ...o, ...g(cmd) })),
    );

  const inv = p.command("inventory").description("inspect inventories");
  inv
    .command("list")
    .description("list the inventory's hosts; --json prints what `ansible-inventory --list` prints")
    .requiredOption("-i, --inventory <path>", "Ansible inventory (INI or YAML) file or directory")
    .option("-l, --limit <pattern>", "only hosts matching this Ansible pattern (table output)")
    .option("--json", "ansible-inventory --list compatible JSON")
    .action(async (o, cmd: Command) => setCode(await inventoryListCommand({ ...o, ...g(cmd) })));

  p.command("run")
    .description("start a run of a plan and drive it with live progress")
    .argument("<plan>", "plan file (YAML)")
    .option(
      "-i, --inventory <path>",
      "Ansible inventory (INI or YAML) file or directory (required without --server)",
    )
    .option("-l, --limit <pattern>", "only hosts matching this Ansible pattern (required unless --all)")
    .option("--all", "run on every host the plan's `hosts` names")
    .option("--confirm <count>", "confirm a wide scope by typing its exact host count", intArg("--confirm"))
    .addOption(
      new Option("--max-hosts <n>", "hosts allowed without --all/--confirm (one region only)")
        .default(DEFAULT_MAX_HOSTS)
        .argParser(intArg("--max-hosts")),
    )
    .option("--seed <n>", "seed for jitter (reproducible runs)", seedArg)
    .option("--schedule", "follow the planner's schedule (order, waves, caps; see overhaul plan)")
    .option("--order <policy>", "with --schedule: balanced (default), rack, uptime or inventory")
    .option("--lease-ttl <duration>", "coordinator lease time-to-live", "30s")
    .option("--json", "print the final summary as JSON on stdout")
    .option("-q, --quiet", "no live progress")
    .action(async (plan: string, o, cmd: Command) => {
      const r = remote(cmd);
      if (r) return setCode(await remoteRun(r, plan, { ...o, ...g(cmd) }));
      if (o.inventory === undefined)
        throw new InputError({
          path: "--inventory",
          message: "is required (the hosts to run on)",
          expected: "-i INVENTORY",
        });
      setCode(await runCommand(plan, { ...o, ...g(cmd) }));
    });
  sshFlags(p.commands.at(-1) as Command);
  windowFlags(p.commands.at(-1) as Command);

  p.command("resume")
    .description("resume a paused or halted run, or take over a run whose coordinator stopped")
    .argument("[run]", "run id (default: the newest run)")
    .option("--detach", "only mark the run running; do not drive it from this process")
    .option(
      "-i, --inventory <path>",
      "where the run's inventory is now (its secret variables are read again from it; default: the path the run stored)",
    )
    .option("--lease-ttl <duration>", "coordinator lease time-to-live", "30s")
    .option("--json", "print the final summary as JSON on stdout")
    .option("-q, --quiet", "no live progress")
    .action(async (run: string | undefined, o, cmd: Command) => {
      // Through a server, -i is refused with the other local-only flags (`remote`).
      const r = remote(cmd);
      if (o.inventory !== undefined && o.detach)
        throw new InputError({
          path: "--inventory",
          message: "with --detach nothing is driven here, so no inventory is read",
          expected: "overhaul resume RUN -i INVENTORY without --detach",
        });
      setCode(
        r ? await remoteResume(r, run, { ...o, ...g(cmd) }) : await resumeCommand(run, { ...o, ...g(cmd) }),
      );
    });
  sshFlags(p.commands.at(-1) as Command);

  p.command("status")
    .description("show a run: state, wave, hosts by stage, failures with reasons")
    .argument("[run]", "run id (default: the newest run)")
    .option("--hosts", "list every host")
    .option("--runs", "list recent runs instead")
    .option("--json", "machine-readable output")
    .action(async (run: string | undefined, o, cmd: Command) => {
      const r = remote(cmd);
      setCode(
        r ? await remoteStatus(r, run, { ...o, ...g(cmd) }) : await statusCommand(run, { ...o, ...g(cmd) }),
      );
    });

  p.command("simulate")
    .description("dry run: drive a plan against a simulated fleet in virtual time, with injected failures")
    .argument("<plan>", "plan file (YAML)")
    .option("-i, --inventory <path>", "simulate the hosts of this Ansible inventory")
    .option("--fleet <spec>", "or generate a fleet, e.g. regions=3,hosts=6,holdovers=0.25,workloads=4,seed=7")
    .option(
      "--workloads <n>",
      "workloads per worker host (default: the fleet spec's, or 0)",
      intArg("--workloads"),
    )
    .option("--scenario <file>", "failures to inject (YAML; see docs/simulator.md)")
    .option("--seed <n>", "seed (overrides the scenario's)", seedArg)
    .option("-l, --limit <pattern>", "only hosts matching this Ansible pattern")
    .option("--report <dir>", "write report.{json,md,html,txt} into this directory")
    .option("--schedule", "follow the planner's schedule (order, waves, caps; see overhaul plan)")
    .option("--order <policy>", "with --schedule: balanced (default), rack, uptime or inventory")
    .option(
      "--json",
      "print the report, the invariants, the simulation figures and the warnings as JSON on stdout",
    )
    .option("-q, --quiet", "no live progress")
    .action(async (plan: string, o, cmd: Command) => {
      const { db, noColor } = g(cmd);
      setCode(await simulateCommand(plan, { ...o, noColor, ...(db !== undefined ? { db } : {}) }));
    });
  windowFlags(p.commands.at(-1) as Command);

  p.command("plan")
    .description(
      "the schedule a run would follow: windows, waves, batches, hold-overs, makespan and its bound",
    )
    .argument("<plan>", "plan file (YAML)")
    .option("-i, --inventory <path>", "plan for the hosts of this Ansible inventory")
    .option(
      "--fleet <spec>",
      "or a generated fleet, e.g. regions=3,hosts=6,holdovers=0.25,workloads=4,seed=7",
    )
    .option(
      "--workloads <n>",
      "workloads per worker host (default: the fleet spec's, or 0)",
      intArg("--workloads"),
    )
    .option("--scenario <file>", "boot times (and failures, ignored here) of a simulator scenario")
    .option("--seed <n>", "seed for jitter and generated workloads", seedArg)
    .option("-l, --limit <pattern>", "only hosts matching this Ansible pattern")
    .option("--order <policy>", "balanced (default), rack, uptime or inventory")
    .option(
      "--window <duration>",
      "every region must finish within this long (e.g. 4h; with --history: the window's length)",
    )
    .option(
      "--history <file>",
      "utilization history (CSV, or a Prometheus query_range JSON): choose each region's window",
    );
  windowSearchFlags(p.commands.at(-1) as Command)
    .option(
      "--samples <n>",
      `plays of the schedule with drawn boot times, for the makespan's p10 / p50 / p90 (default ${DEFAULT_SAMPLES}; 0: none)`,
      intArg("--samples"),
    )
    .option("--explain", "every batch with its start offset, hold-over assignments, the bound wave by wave")
    .option("--json", "the schedule (or the refusal) as JSON on stdout")
    .action(async (plan: string, o, cmd: Command) => setCode(await planCommand(plan, { ...o, ...g(cmd) })));

  p.command("history")
    .description(
      "the utilization history a simulated fleet would have recorded (for overhaul plan --history)",
    )
    .option("-i, --inventory <path>", "the hosts of this Ansible inventory")
    .option("--fleet <spec>", "or a generated fleet, e.g. regions=3,hosts=6")
    .option("--days <n>", "days of history, ending when simulations start (default 14)", intArg("--days"))
    .option("--step <duration>", "one sample per region every (default 15m)")
    .option("--format <format>", "csv (default) or prometheus (a query_range JSON response)")
    .option("--seed <n>", "noise seed", seedArg)
    .option("-o, --output <file>", "write to this file instead of stdout")
    .action(async (o, cmd: Command) => setCode(await historyCommand({ ...o, ...g(cmd) })));

  p.command("demo")
    .description("a rolling reboot of a generated 3-region fleet with injected failures, in compressed time")
    .option("--seed <n>", "seed", seedArg)
    .option("--report <dir>", "where to write the reports", ".overhaul/demo")
    .option("--fast", "no pacing: run at full simulation speed")
    .option(
      "--json",
      "print the report, the invariants, the simulation figures and the warnings as JSON on stdout",
    )
    .action(async (o, cmd: Command) => {
      const { db, noColor } = g(cmd);
      setCode(await demoCommand({ ...o, noColor, ...(db !== undefined ? { db } : {}) }));
    });

  p.command("report")
    .description("report a run: per-region figures, waves, failures, and an HTML timeline")
    .argument("[run]", "run id (default: the newest run)")
    .addOption(
      new Option(
        "--format <format>",
        "text, json, md or html (default: from -o's extension, else text)",
      ).choices(["text", "json", "md", "html"]),
    )
    .option("-o, --output <file>", "write the report to this file instead of stdout")
    .option("--json", "same as --format json")
    .action(async (run: string | undefined, o, cmd: Command) =>
      setCode(await reportCommand(run, { ...o, ...g(cmd) }, remote(cmd))),
    );

  for (const [name, desc] of [
    ["pause", "stop starting new work; hosts in flight finish their current step"],
    ["abort", "stop the run: no new work; hosts stop after their current step (no revert)"],
  ] as const) {
    p.command(name)
      .description(desc)
      .argument("[run]", "run id (default: the newest run)")
      .option("--reason <text>", "why, for the audit trail")
      .option("--json", "machine-readable output")
      .action(async (run: string | undefined, o, cmd: Command) => {
        const r = remote(cmd);
        setCode(
          r
            ? await remoteRunAction(r, name, run, { ...o, ...g(cmd) })
            : await runActionCommand(name, run, { ...o, ...g(cmd) }),
        );
      });
  }

  for (const [name, desc] of [
    ["retry", "retry one failed or in-doubt host (in-doubt: you confirm re-running its step is safe)"],
    ["skip", "take one pending, failed or in-doubt host out of the run"],
  ] as const) {
    p.command(name)
      .description(desc)
      .argument("<host>", "host name")
      .option(
        "--run <id>",
        "run id (default: the run that has the host unfinished, else the newest that has it)",
      )
      .option("--json", "machine-readable output")
      .action(async (host: string, o, cmd: Command) => {
        const r = remote(cmd);
        setCode(
          r
            ? await remoteHostAction(r, name, host, { ...o, ...g(cmd) })
            : await hostActionCommand(name, host, { ...o, ...g(cmd) }),
        );
      });
  }
  p.command("serve")
    .description("the coordinator and its HTTP API, live events, metrics and dashboard in one process")
    .option("--listen <addr>", "address to listen on (HOST:PORT)", "127.0.0.1:7070")
    .option("-i, --inventory <path>", "inventory runs started through the API are scoped against")
    .option("--tls-cert <file>", "TLS certificate (PEM); with --tls-key, serve HTTPS")
    .option("--tls-key <file>", "TLS private key (PEM)")
    .option("--insecure-listen", "allow plain HTTP beyond loopback (a proxy in front terminates TLS)")
    .option(
      "--trust-proxy <addrs>",
      "proxies (addresses or CIDRs, comma-separated) whose X-Forwarded-For names the client",
    )
    .option(
      "--audit-mode <mode>",
      "best-effort: an audit entry that cannot be written is reported on stderr; strict: no action unless its entry is written first (503 otherwise)",
      "best-effort",
    )
    .option("--lease-ttl <duration>", "coordinator lease time-to-live", "30s")
    .option("--dashboard <dir>", "directory of the built dashboard (default: the one shipped)")
    .action(async (o, cmd: Command) => setCode(await serveCommand({ ...o, ...g(cmd) })));
  sshFlags(p.commands.at(-1) as Command);

  const tok = p.command("token").description("API tokens of `overhaul serve` (viewer, operator, admin)");
  tok
    .command("create")
    .description("create a token; it is printed once and stored only as a hash")
    .requiredOption("--role <role>", "viewer, operator or admin")
    .requiredOption("--name <name>", "who or what holds it (unique)")
    .option("--json", "machine-readable output")
    .action(async (o, cmd: Command) => setCode(await tokenCreateCommand({ ...o, ...g(cmd) })));
  tok
    .command("list")
    .description("list tokens (never their secrets)")
    .option("--json", "machine-readable output")
    .action(async (o, cmd: Command) => setCode(await tokenListCommand({ ...o, ...g(cmd) })));
  tok
    .command("revoke")
    .description("revoke a token by id or name; it stops working at once")
    .argument("<token>", "token id (tok_...) or name")
    .option("--json", "machine-readable output")
    .action(async (t: string, o, cmd: Command) => setCode(await tokenRevokeCommand(t, { ...o, ...g(cmd) })));
  return p;
}

function describe(err: unknown): string {
  if (err instanceof InputError) {
    const n = err.problems.length;
    const head = n > 1 ? `${n} problems:\n` : "";
    return `overhaul: ${head}${err.problems.map((p) => (n > 1 ? `  - ${formatProblem(p)}` : formatProblem(p))).join("\n")}`;
  }
  if (err instanceof OverhaulError) return `overhaul: ${err.message}`;
  return `overhaul: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`;
}

export async function main(argv: string[]): Promise<number> {
  quietOnClosedPipes();
  let code: number = EXIT.ok;
  const p = program((n) => {
    code = n;
  });
  try {
    await p.parseAsync(argv);
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (
        err.code === "commander.helpDisplayed" ||
        err.code === "commander.version" ||
        err.code === "commander.help"
      )
        return EXIT.ok;
      return EXIT.invalidInput;
    }
    writeTo(process.stderr, `${describe(err)}\n`);
    return exitCodeOf(err);
  }
}
