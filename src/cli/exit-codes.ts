/**
 * Exit codes (documented in docs/cli.md). Only the CLI maps errors to them and exits.
 */
import { InputError, NotFoundError, OverhaulError, SafetyRefusal } from "../core/errors.js";

export const EXIT = {
  ok: 0,
  internal: 1,
  invalidInput: 2,
  runFailed: 3,
  refused: 4,
  /** A simulation broke an invariant (the engine misbehaved). */
  invariant: 5,
  /** `--server`: the server refused the token (401) or its role (403). */
  notAuthorized: 6,
} as const;

export function exitCodeOf(err: unknown): number {
  if (err instanceof InputError || err instanceof NotFoundError) return EXIT.invalidInput;
  if (err instanceof SafetyRefusal) return EXIT.refused;
  if (err instanceof OverhaulError && err.name === "NotAuthorizedError") return EXIT.notAuthorized;
  if (err instanceof OverhaulError && err.name === "OverhaulError") return EXIT.invalidInput;
  return EXIT.internal;
}
