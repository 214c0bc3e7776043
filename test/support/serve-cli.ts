/**
 * Starting the built `overhaul serve` as a child process on 127.0.0.1 port 0 and learning its URL
 * from the line it prints once it accepts requests.
 */
import { type CliResult, startCli } from "./cli.js";

export interface ServeProcess {
  url: string;
  /** SIGTERM, then the process's result. */
  stop(): Promise<CliResult>;
}

export async function startServe(
  db: string,
  args: string[],
  cwd: string,
  timeoutMs = 15_000,
): Promise<ServeProcess> {
  let found!: (u: string) => void;
  const listening = new Promise<string>((r) => {
    found = r;
  });
  const proc = startCli(["--db", db, "serve", "--listen", "127.0.0.1:0", ...args], {
    cwd,
    onStderr: (all) => {
      const m = /listening on (https?:\/\/127\.0\.0\.1:\d+)/.exec(all);
      if (m?.[1]) found(m[1]);
    },
  });
  let timer: NodeJS.Timeout | undefined;
  const url = await Promise.race([
    listening,
    proc.done.then((r) => Promise.reject(new Error(`serve exited ${r.code}: ${r.stderr}`))),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`serve did not listen within ${timeoutMs} ms`)), timeoutMs);
    }),
  ]).finally(() => clearTimeout(timer));
  return {
    url,
    stop() {
      proc.child.kill("SIGTERM");
      return proc.done;
    },
  };
}
