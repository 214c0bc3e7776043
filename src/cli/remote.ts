/**
 * The CLI against a running `overhaul serve` (`--server URL` / OVERHAUL_SERVER, with the bearer
 * token in OVERHAUL_TOKEN): the same commands, output and exit codes as on a local database.
 *
 * Invariants:
 * - The token is read from the environment only (never a flag: it would land in shell history
 *   and process lists), and is sent only in the Authorization header, and never in clear text
 *   over the network: `http://` is refused unless the server is on this machine (loopback).
 * - Answers map back to the errors the local commands raise: 400 InputError (with the server's
 *   exact paths), 404 NotFoundError, 409 SafetyRefusal (with its rule) or a refusal, 401/403
 *   NotAuthorized (exit 6), an unreachable server exit 1.
 * - Following a run reads the live event stream and resumes from the last event it saw when the
 *   connection drops, so no event is shown twice or skipped.
 */
import { InputError, NotFoundError, OverhaulError, type Problem, SafetyRefusal } from "../core/errors.js";
import type { EventRecord } from "../ports/store.js";

export class NotAuthorizedError extends OverhaulError {
  override readonly name = "NotAuthorizedError";
}

export class ServerUnreachableError extends OverhaulError {
  override readonly name = "ServerUnreachableError";
}

export interface Remote {
  url: string;
  token: string;
  /** Where the URL came from, for messages: the flag or the environment. */
  via: "--server" | "OVERHAUL_SERVER";
}

/** The server to talk to, or undefined for the local database. */
export function remoteOf(flag: string | undefined): Remote | undefined {
  const url = flag ?? process.env.OVERHAUL_SERVER;
  if (url === undefined || url === "") return undefined;
  const where = flag !== undefined ? "--server" : "OVERHAUL_SERVER";
  if (!/^https?:\/\/[^/]+/.test(url)) {
    throw new InputError({
      path: where,
      message: `"${url}" is not a server URL`,
      expected: "http(s)://HOST:PORT",
    });
  }
  if (url.startsWith("http://") && !loopbackUrl(url)) {
    throw new InputError({
      path: where,
      message: `"${url}" would send the token in clear text over the network`,
      expected:
        "https://HOST:PORT (serve with --tls-cert and --tls-key), or http:// to a loopback address (127.0.0.1, ::1, localhost)",
    });
  }
  const token = process.env.OVERHAUL_TOKEN;
  if (!token) {
    throw new InputError({
      path: "OVERHAUL_TOKEN",
      message: "is not set; a server needs a token",
      expected: "a token from `overhaul token create` on the server",
    });
  }
  return { url: url.replace(/\/+$/, ""), token, via: where };
}

/** Whether the URL's host is this machine (127.0.0.0/8, ::1, localhost). */
function loopbackUrl(url: string): boolean {
  let host: string;
  try {
    host = new URL(url).hostname.toLowerCase();
  } catch {
    return false;
  }
  // Names other than `localhost` itself (e.g. `x.localhost`) may be resolved through DNS.
  if (host === "localhost" || host === "localhost." || host === "[::1]") return true;
  // 127.0.0.0/8, also written as an IPv4-mapped IPv6 address (the URL parser normalizes both).
  return (
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) || /^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/.test(host)
  );
}

export async function call<T>(r: Remote, method: "GET" | "POST", path: string, body?: unknown): Promise<T> {
  const { res, text } = await send(r, method, path, body);
  const data = jsonOf(text);
  if (!res.ok) throw failure(method, path, res.status, data ?? {});
  if (data === undefined)
    throw new OverhaulError(`the server answered ${method} ${path} with something that is not JSON`);
  return data as T;
}

/** A GET whose answer is text as it is (a report in a format): errors map as `call`'s. */
export async function callText(r: Remote, path: string): Promise<string> {
  const { res, text } = await send(r, "GET", path);
  if (!res.ok) throw failure("GET", path, res.status, jsonOf(text) ?? {});
  return text;
}

function jsonOf(text: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

async function send(
  r: Remote,
  method: "GET" | "POST",
  path: string,
  body?: unknown,
): Promise<{ res: Response; text: string }> {
  let res: Response;
  try {
    res = await fetch(`${r.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${r.token}`,
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  } catch (err) {
    throw new ServerUnreachableError(`cannot reach the server at ${r.url}: ${(err as Error).cause ?? err}`, {
      cause: err,
    });
  }
  return { res, text: await res.text() };
}

/** The error a failed answer maps to (see the header). */
function failure(method: string, path: string, status: number, data: Record<string, unknown>): Error {
  const msg = typeof data.error === "string" ? data.error : `HTTP ${status}`;
  if (status === 400 && Array.isArray(data.problems)) return new InputError(data.problems as Problem[]);
  if (status === 401 || status === 403) return new NotAuthorizedError(`server: ${msg}`);
  if (status === 404) return new NotFoundError(msg);
  if (status === 409 && typeof data.rule === "string") return new SafetyRefusal(data.rule, msg);
  if (status === 409) return new OverhaulError(msg);
  return new ServerUnreachableError(`the server failed ${method} ${path}: ${msg} (HTTP ${status})`);
}

/** The run id given, or the newest run on the server. */
export async function remoteRunId(r: Remote, runId: string | undefined): Promise<string> {
  if (runId) return runId;
  const [latest] = await call<{ id: string }[]>(r, "GET", "/api/runs?limit=1");
  if (!latest) throw new NotFoundError("there are no runs on this server yet");
  return latest.id;
}

const TERMINAL = new Set(["run.succeeded", "run.failed", "run.aborted"]);

/**
 * Stream the run's events to `onEvent` until the run ends (resolves true) or `signal` aborts
 * (resolves false). Reconnects after a dropped stream from the last event seen.
 */
export async function followRun(
  r: Remote,
  runId: string,
  onEvent: (e: EventRecord) => void,
  signal: AbortSignal,
): Promise<boolean> {
  let after = 0;
  for (let attempt = 0; !signal.aborted; attempt++) {
    try {
      const res = await fetch(`${r.url}/api/runs/${encodeURIComponent(runId)}/events/stream?after=${after}`, {
        headers: { authorization: `Bearer ${r.token}`, accept: "text/event-stream" },
        signal,
      });
      if (res.status === 401 || res.status === 403)
        throw new NotAuthorizedError(`server: HTTP ${res.status}`);
      if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
      attempt = 0;
      const decoder = new TextDecoder();
      let buf = "";
      for await (const chunk of res.body) {
        buf += decoder.decode(chunk as Uint8Array, { stream: true });
        for (let i = buf.indexOf("\n\n"); i >= 0; i = buf.indexOf("\n\n")) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const data = block
            .split("\n")
            .find((l) => l.startsWith("data: "))
            ?.slice(6);
          if (data === undefined) continue;
          const e = JSON.parse(data) as EventRecord;
          after = Math.max(after, e.seq);
          onEvent(e);
          if (TERMINAL.has(e.type)) return true;
        }
      }
    } catch (err) {
      if (signal.aborted) return false;
      if (err instanceof NotAuthorizedError) throw err;
      if (attempt >= 5)
        throw new ServerUnreachableError(`lost the event stream of run ${runId}: ${String(err)}`);
    }
    await new Promise((res) => setTimeout(res, 500 * (attempt + 1)));
  }
  return false;
}
