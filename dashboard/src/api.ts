/**
 * The dashboard's API client: bearer token from the login form (kept in sessionStorage, so it
 * dies with the tab), JSON calls, and the live event stream read with fetch (EventSource cannot
 * send an Authorization header). The stream reconnects from the last event it saw.
 */
export const TOKEN_KEY = "overhaul.token";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function token(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export async function api<T>(method: "GET" | "POST", path: string, body?: unknown): Promise<T> {
  const res = await fetch(path, {
    method,
    headers: {
      authorization: `Bearer ${token() ?? ""}`,
      ...(body !== undefined ? { "content-type": "application/json" } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const data = (await res.json().catch(() => ({}))) as { error?: string };
  if (!res.ok) throw new ApiError(res.status, data.error ?? `HTTP ${res.status}`);
  return data as T;
}

export interface LiveEvent {
  seq: number;
  runId: string;
  host: string | null;
  at: number;
  type: string;
  actor: string;
  data: Record<string, unknown>;
}

/** Follow a run's events until `signal` aborts. */
export async function follow(
  runId: string,
  onEvent: (e: LiveEvent) => void,
  signal: AbortSignal,
): Promise<void> {
  let after = 0;
  while (!signal.aborted) {
    try {
      const res = await fetch(`/api/runs/${encodeURIComponent(runId)}/events/stream?after=${after}`, {
        headers: { authorization: `Bearer ${token() ?? ""}`, accept: "text/event-stream" },
        signal,
      });
      if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      let buf = "";
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        buf += decoder.decode(value, { stream: true });
        for (let i = buf.indexOf("\n\n"); i >= 0; i = buf.indexOf("\n\n")) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const line = block.split("\n").find((l) => l.startsWith("data: "));
          if (!line) continue;
          const e = JSON.parse(line.slice(6)) as LiveEvent;
          after = Math.max(after, e.seq);
          onEvent(e);
        }
      }
    } catch {
      if (signal.aborted) return;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}
