/**
 * The composition root: the only place that wires adapters to ports.
 *
 * Invariants:
 * - The database is `.overhaul/overhaul.db` (SQLite) unless `--db` / OVERHAUL_DB names another
 *   file or a `postgres://` URL. Migrations run at every open.
 * - Files the user names are read here; a missing or unreadable file is an InputError naming it.
 */
import { createHash, randomBytes } from "node:crypto";
import { statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { hostname } from "node:os";
import { decodeText } from "../adapters/inventory-files/index.js";
import { openPostgresStore, openSqliteStore } from "../adapters/store-sql/index.js";
import { InputError } from "../core/errors.js";
import { compilePlan, type Plan } from "../core/plan/compile.js";
import { parsePlan } from "../core/plan/load.js";
import type { Position } from "../core/plan/yaml-locate.js";
import type { Store } from "../ports/store.js";

export const DEFAULT_DB = ".overhaul/overhaul.db";

/**
 * The database `--db` (else OVERHAUL_DB, else the default) names. Refused when it would keep
 * nothing: an empty name (SQLite would open a temporary file, gone at exit) or `:memory:` — a run,
 * its audit trail and its tokens must outlive the process (`simulate --db :memory:` is its own case).
 */
export function dbLocation(flag?: string): string {
  const env = process.env.OVERHAUL_DB;
  const [where, from] =
    flag !== undefined ? [flag, "--db"] : env !== undefined ? [env, "OVERHAUL_DB"] : [DEFAULT_DB, "--db"];
  const scheme = urlScheme(where);
  if (scheme !== undefined && scheme !== "postgres" && scheme !== "postgresql")
    // A mistyped URL would otherwise be a SQLite file in a directory named after it (with any
    // password in the path), a database of its own beside the one the other coordinators use.
    throw new InputError({
      path: from,
      message: `is a ${scheme}:// URL, which is not a database Overhaul can open`,
      expected: `a SQLite file path (default ${DEFAULT_DB}) or a postgres:// (postgresql://) URL`,
    });
  if (where.trim() === "" || where === ":memory:")
    throw new InputError({
      path: from,
      message:
        where === ":memory:"
          ? "an in-memory database keeps nothing once the command ends"
          : "is empty (it would be a temporary database, gone once the command ends)",
      expected: `a SQLite file (default ${DEFAULT_DB}) or a postgres:// URL`,
    });
  return where;
}

/** The scheme of a `scheme://...` URL (lower case), or undefined for anything else (a file path). */
export function urlScheme(where: string): string | undefined {
  return /^([a-z][a-z0-9+.-]*):\/\//i.exec(where)?.[1]?.toLowerCase();
}

/**
 * Open the database. `existing`: for commands that only act on runs already stored (status,
 * report, pause, resume, abort, retry, skip): a SQLite file that does not exist is an InputError
 * ("no database at PATH") and nothing is created — a mistyped --db would otherwise leave a new
 * directory and an empty database behind, and answer "no runs". `run`, `simulate`, `serve` and
 * `token` create it.
 */
export async function openStore(flag?: string, opts: { existing?: boolean } = {}): Promise<Store> {
  const where = dbLocation(flag);
  const postgres = urlScheme(where) !== undefined;
  if (!postgres && opts.existing) requireDatabaseFile(where, flag);
  const store = postgres ? await openPostgresStore(where) : await openSqliteStore(where);
  await store.migrate();
  return store;
}

function requireDatabaseFile(where: string, flag: string | undefined): void {
  try {
    statSync(where);
  } catch (e) {
    // Anything but "not there" (a path below a file, no permission) the SQLite store names itself.
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") return;
    const from = flag === undefined && process.env.OVERHAUL_DB !== undefined ? "OVERHAUL_DB" : "--db";
    throw new InputError({
      path: from,
      message: `no database at ${where}`,
      expected: `the database the run was started with (\`overhaul run --db PATH\`, OVERHAUL_DB; default ${DEFAULT_DB})`,
    });
  }
}

export async function readUserFile(path: string, what: string): Promise<string> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === "ENOENT"
        ? "no such file"
        : code === "EISDIR"
          ? "is a directory"
          : code === "EACCES"
            ? "permission denied"
            : String(e);
    throw new InputError(
      { file: path, message: `cannot read the ${what}: ${why}`, expected: `a readable ${what} file` },
      { cause: e },
    );
  }
  return decodeText(bytes, path, what);
}

export interface LoadedPlan {
  plan: Plan;
  body: string;
  hash: string;
  file: string;
  /** Where the plan's `hosts` pattern is written: errors about the pattern point there. */
  hostsAt?: Position;
}

export async function loadPlanFile(path: string): Promise<LoadedPlan> {
  return loadPlanText(await readUserFile(path, "plan"), path);
}

/** A plan from its text (`file` names it in errors): compiled, with the hash its revision gets. */
export function loadPlanText(body: string, file: string): LoadedPlan {
  const parsed = parsePlan(body, file);
  const plan = compilePlan(parsed.spec);
  const hash = createHash("sha256").update(body).digest("hex");
  return { plan, body, hash, file, ...(parsed.hostsAt ? { hostsAt: parsed.hostsAt } : {}) };
}

/** Who is acting, for the audit trail. */
export function operatorName(): string {
  return process.env.OVERHAUL_OPERATOR ?? process.env.USER ?? process.env.LOGNAME ?? "unknown";
}

/** A unique coordinator id: host, pid and a random suffix. */
export function coordinatorId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(3).toString("hex")}`;
}
