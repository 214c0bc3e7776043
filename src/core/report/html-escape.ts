/**
 * Escaping for HTML text and attribute values (double- or single-quoted).
 *
 * Invariant: every string from the data (host names, regions, step names, reasons — reasons hold
 * command output, which anyone who can write to a host controls) passes through `esc` before it
 * is placed in the page. Numbers the renderer computes itself need no escaping.
 */
const ENTITIES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ENTITIES[c] as string);
}
