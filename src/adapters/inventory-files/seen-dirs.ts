/**
 * The directories one walk has read, by real path, so that a symbolic link back into the walk stops
 * it at once with a clear error instead of `ELOOP` after forty levels of `loop/loop/...` (or an
 * exponential walk when two links lead to one directory at each level).
 *
 * Invariants:
 * - `enter` is called for every directory before it is read; a directory whose real path was
 *   already entered in this walk is an `InputError` naming it as shown, the path it was first read
 *   as, and the real path they share.
 * - Only reads (`realpath`); a directory that cannot be resolved is an `InputError` naming it.
 */
import { realpath } from "node:fs/promises";
import { InputError } from "../../core/errors.js";

export class SeenDirs {
  private readonly seen = new Map<string, string>();

  async enter(full: string, shown: string = full): Promise<void> {
    let real: string;
    try {
      real = await realpath(full);
    } catch (e) {
      throw new InputError(
        { file: shown, message: `cannot read the directory: ${(e as Error).message}` },
        { cause: e },
      );
    }
    const first = this.seen.get(real);
    if (first === undefined) {
      this.seen.set(real, shown);
      return;
    }
    const both = real === first ? "" : ` (both are ${real})`;
    throw new InputError({
      file: shown,
      message: shown.startsWith(`${first}/`)
        ? `this directory is ${first} again${both}: a symbolic link loop`
        : `this directory was already read as ${first}${both}: two paths lead to it`,
      expected: "each directory once: remove the symbolic link, or point it outside the inventory",
    });
  }
}
