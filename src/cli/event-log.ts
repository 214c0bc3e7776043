/**
 * Structured event log (pino, JSON lines) under `.overhaul/logs/RUN.jsonl`, one record per engine
 * event with `{runId, host, type, ...}`. It is a subscriber: a failing log never disturbs the run.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import pino from "pino";
import type { EventSink } from "../ports/events.js";

export function createEventLog(
  runId: string,
  dir = process.env.OVERHAUL_LOG_DIR ?? ".overhaul/logs",
): EventSink & { close(): Promise<void> } {
  let logger: pino.Logger | undefined;
  let dest: (pino.DestinationStream & { flushSync?: () => void; end?: () => void }) | undefined;
  try {
    mkdirSync(dir, { recursive: true });
    dest = pino.destination({ dest: join(dir, `${runId}.jsonl`), sync: false, mkdir: true });
    logger = pino({ base: { runId }, timestamp: pino.stdTimeFunctions.isoTime }, dest);
  } catch {
    logger = undefined;
  }
  return {
    emit(e) {
      try {
        logger?.info({ host: e.host, actor: e.actor, at: new Date(e.at).toISOString(), ...e.data }, e.type);
      } catch {
        // never disturb the run
      }
    },
    async close() {
      try {
        dest?.flushSync?.();
      } catch {
        // ignore
      }
    },
  };
}
