/**
 * Text from hosts, shown on a terminal. A reason often quotes a command's output, so whoever
 * controls a host controls those bytes; written raw, escape sequences in them would set the
 * terminal's title or clipboard (OSC 52), clear the screen, move the cursor over earlier lines or
 * hide text, and a right-to-left override would make a line read other than it is.
 *
 * Invariants:
 * - `visible` shows every C0 control but tab and newline, DEL, every C1 control and the Unicode
 *   bidirectional controls as `\uXXXX`, and changes nothing else. That form is also a JSON string
 *   escape of the same character, so JSON text passed through it means exactly what it meant.
 * - `terminalSafe` is `visible` for a whole stream Overhaul writes to a terminal, letting through
 *   only the escape sequences Overhaul itself writes: colours (SGR, `ESC[...m`) and the live
 *   display's redraw (`ESC[nA`, `ESC[J`). Those cannot hide text, move it sideways or reach outside
 *   the lines the live display drew. Reasons are also made `visible` where they are rendered, so
 *   none of them is let through as one of these either.
 * - Pure.
 */

const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

const TERMINAL =
  /\u001b\[(?:[0-9]{1,3}(?:;[0-9]{1,3})*m|[0-9]{1,4}A|J)|[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

function escaped(c: string): string {
  return `\\u${(c.codePointAt(0) ?? 0).toString(16).padStart(4, "0")}`;
}

/** `s` with its control characters shown, not obeyed (see the header). */
export function visible(s: string): string {
  return s.replace(CONTROL, escaped);
}

/** A chunk for a terminal: `visible`, but Overhaul's own colours and redraws pass (see the header). */
export function terminalSafe(s: string): string {
  return s.replace(TERMINAL, (m) => (m.length > 1 ? m : escaped(m)));
}
