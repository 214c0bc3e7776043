/**
 * A minimal server-sent-events reader over fetch (what EventSource does), for tests and benches:
 * collects `id` + `data` frames until aborted.
 */
export interface SseFrame {
  id: number;
  data: { seq: number; type: string; host: string | null; [k: string]: unknown };
}

export interface SseStream {
  frames: SseFrame[];
  status: number;
  /** Resolves when the server ends the stream (or it is aborted). */
  ended: Promise<void>;
  /** Resolves when a frame matching `pred` has arrived (rejects after `ms`). */
  until(pred: (f: SseFrame) => boolean, ms?: number): Promise<SseFrame>;
  close(): void;
}

export async function openSse(url: string, headers: Record<string, string> = {}): Promise<SseStream> {
  const ac = new AbortController();
  const res = await fetch(url, { headers: { accept: "text/event-stream", ...headers }, signal: ac.signal });
  const frames: SseFrame[] = [];
  const waiters: { pred: (f: SseFrame) => boolean; resolve: (f: SseFrame) => void }[] = [];
  const pump = async () => {
    if (!res.body) return;
    const decoder = new TextDecoder();
    let buf = "";
    try {
      for await (const chunk of res.body) {
        buf += decoder.decode(chunk as Uint8Array, { stream: true });
        for (let i = buf.indexOf("\n\n"); i >= 0; i = buf.indexOf("\n\n")) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          let id: number | undefined;
          let data: string | undefined;
          for (const line of block.split("\n")) {
            if (line.startsWith("id: ")) id = Number(line.slice(4));
            else if (line.startsWith("data: ")) data = line.slice(6);
          }
          if (id === undefined || data === undefined) continue;
          const f = { id, data: JSON.parse(data) } as SseFrame;
          frames.push(f);
          for (const w of [...waiters]) {
            if (w.pred(f)) {
              waiters.splice(waiters.indexOf(w), 1);
              w.resolve(f);
            }
          }
        }
      }
    } catch {
      // aborted
    }
  };
  const ended = pump();
  return {
    frames,
    status: res.status,
    ended,
    until(pred, ms = 5000) {
      const hit = frames.find(pred);
      if (hit) return Promise.resolve(hit);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no matching event within ${ms} ms`)), ms);
        waiters.push({
          pred,
          resolve: (f) => {
            clearTimeout(timer);
            resolve(f);
          },
        });
      });
    },
    close: () => ac.abort(),
  };
}
