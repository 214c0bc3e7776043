/**
 * How a command's script reaches the host's shell, and how the client knows that shell started
 * (decision 0013).
 *
 * Invariants:
 * - The exec request carries only `BOOTSTRAP` (fixed text, no variable, no secret; under sudo it
 *   is what `ps` shows for the whole command): a one-line `sh` program that prints `STARTED` on
 *   stderr, reads one line (the script's length in bytes) and then that many bytes from stdin,
 *   checks that they end with `SCRIPT_END` (the script arrived whole; otherwise it exits 125 with
 *   `INCOMPLETE` and runs nothing), points its stdin at /dev/null (the command reads EOF, never the
 *   script or a password) and `eval`s the script in the same process (so the attempt marker's pid
 *   is the command's; command.ts).
 * - `STARTED` is written before the script is read, by the shell sudo started: nothing of the
 *   command can run before it, so "no `STARTED`" means "nothing ran". Everything on stderr before
 *   it is sudo's (prompts, "Sorry, try again.", refusals) and is not the command's output.
 * - With a become password, sudo is given `SUDO_PROMPT` (`-p`): the password is written when that
 *   prompt appears, never otherwise; a second prompt or "Sorry, try again." means a wrong password.
 *   The script is written only after `STARTED`, so it never reaches sudo as a password.
 * - One line, POSIX `sh` (dash, bash, BusyBox ash), no `!` or newline (csh login shells): `printf`,
 *   `read`, `head -c`.
 * - `StartWatch` is pure: bytes in, events and the command's own stderr bytes out.
 */

/** The shell's first words on stderr (then a newline). */
export const STARTED = "overhaul: shell started";
/** The `-p` prompt given to sudo: unique, no `%` (sudo expands those). */
export const SUDO_PROMPT = "[overhaul] sudo password:";
/** The last line of every script: its arrival proves the script is whole. */
export const SCRIPT_END = "# overhaul: end of script";
/** What the shell says when the script did not arrive whole (it then exits 125, running nothing). */
export const INCOMPLETE = "overhaul: the script did not arrive whole";
/** sudo's words for a wrong password (before it asks again). */
const SORRY = "Sorry, try again.";

export const BOOTSTRAP = [
  `printf '%s\\n' '${STARTED}' >&2 || exit 125`,
  `IFS= read -r n && [ "$n" -gt 0 ] && s=$(head -c "$n") && [ "\${s%'${SCRIPT_END}'}" != "$s" ] || { printf '\\n%s\\n' '${INCOMPLETE}' >&2; exit 125; }`,
  "exec </dev/null",
  'eval "$s"',
].join("; ");

/** What goes on the channel's stdin for `script`: its length in bytes, a newline, the script. */
export function frame(script: string): Buffer {
  const body = Buffer.from(script, "utf8");
  return Buffer.concat([Buffer.from(`${body.length}\n`), body]);
}

export type StartEvent = "prompt" | "again" | "started";

/** Kept of sudo's words before `STARTED` (a become program that never stops talking). */
const MAX_PREAMBLE = 65_536;
const TOKENS: ReadonlyArray<readonly [string, StartEvent | "sorry"]> = [
  [SUDO_PROMPT, "prompt"],
  [SORRY, "sorry"],
  [`${STARTED}\n`, "started"],
];
const LONGEST = Math.max(...TOKENS.map(([t]) => t.length));

/** Reads a channel's stderr until the shell says it started (see the header). */
export class StartWatch {
  started = false;
  /** stderr before `STARTED`, as latin1 (one character per byte). */
  private buf = "";
  private pos = 0;
  private prompts = 0;

  /** The events this chunk brings, in order, and the command's own stderr bytes in it. */
  feed(chunk: Buffer): { events: StartEvent[]; rest?: Buffer } {
    if (this.started) return { events: [], rest: chunk };
    this.buf += chunk.toString("latin1");
    const events: StartEvent[] = [];
    for (;;) {
      let found: { at: number; token: string; what: StartEvent | "sorry" } | undefined;
      for (const [token, what] of TOKENS) {
        const at = this.buf.indexOf(token, this.pos);
        if (at >= 0 && (found === undefined || at < found.at)) found = { at, token, what };
      }
      if (!found) {
        this.pos = Math.max(this.pos, this.buf.length - LONGEST + 1);
        break;
      }
      this.pos = found.at + found.token.length;
      if (found.what === "started") {
        this.started = true;
        events.push("started");
        const rest = Buffer.from(this.buf.slice(this.pos), "latin1");
        this.buf = this.buf.slice(0, found.at);
        return rest.length > 0 ? { events, rest } : { events };
      }
      if (found.what === "sorry") events.push("again");
      else events.push(++this.prompts === 1 ? "prompt" : "again");
    }
    if (this.buf.length > MAX_PREAMBLE) {
      const cut = this.buf.length - MAX_PREAMBLE;
      this.buf = this.buf.slice(cut);
      this.pos = Math.max(0, this.pos - cut);
    }
    return { events };
  }

  /** What was said before the shell started (sudo's words), prompts left out, on one line. */
  said(): string {
    const text = Buffer.from(this.buf.split(SUDO_PROMPT).join("\n"), "latin1").toString("utf8");
    const lines = text
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l !== "");
    const one = lines.join("; ");
    return one.length > 300 ? `${one.slice(0, 297)}...` : one;
  }
}
