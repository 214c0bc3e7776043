/**
 * The `overhaul` CLI entry for benchmarks: the same as bin/overhaul.js, but on the sources the
 * bench build just compiled (dist-bench/), so a benchmark never times a stale dist/.
 */
import { main } from "../src/cli/main.js";

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(
      `overhaul: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
    );
    process.exitCode = 1;
  },
);
