/**
 * Python's `shlex.split(line, comments=True)` (POSIX mode), which Ansible's INI plugin uses to
 * split a host line into the host pattern and its `key=value` assignments.
 *
 * Invariants:
 * - Same tokens as Python for every input, including its quirks: a `#` inside an unquoted word
 *   ends the word and comments out the rest of the line (`pw=ab#cd` gives `pw=ab`); inside double
 *   quotes a backslash escapes only `"` and `\`; an empty quoted string is a token.
 * - An unclosed quote or a trailing backslash is an error, reported with the column it starts at.
 * - Each token carries the 0-based offset of its first character, for error columns.
 */

export interface ShlexToken {
  value: string;
  offset: number;
}

export class ShlexError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

const WHITESPACE = " \t\r\n";
const QUOTES = "'\"";

/** Split like `shlex.split(line, comments=true)`. Throws `ShlexError` on bad quoting. */
export function shlexSplit(line: string): ShlexToken[] {
  const tokens: ShlexToken[] = [];
  // state: " " between tokens, "a" in a word, a quote char inside quotes, "\\" after an escape.
  let state = " ";
  let escaped = "a";
  let token = "";
  let quoted = false;
  let start = 0;
  let quoteStart = 0;
  const emit = (): void => {
    if (token !== "" || quoted) tokens.push({ value: token, offset: start });
    token = "";
    quoted = false;
  };
  let i = 0;
  for (; i < line.length; i++) {
    const ch = line[i] as string;
    if (state === " ") {
      if (WHITESPACE.includes(ch)) continue;
      if (ch === "#") return tokens;
      start = i;
      if (ch === "\\") {
        escaped = "a";
        state = "\\";
      } else if (QUOTES.includes(ch)) {
        quoteStart = i;
        state = ch;
      } else {
        token = ch;
        state = "a";
      }
    } else if (state === "a") {
      if (WHITESPACE.includes(ch)) {
        state = " ";
        emit();
      } else if (ch === "#") {
        emit();
        return tokens;
      } else if (QUOTES.includes(ch)) {
        quoteStart = i;
        state = ch;
      } else if (ch === "\\") {
        escaped = "a";
        state = "\\";
      } else {
        token += ch;
      }
    } else if (state === "\\") {
      if (QUOTES.includes(escaped) && ch !== "\\" && ch !== escaped) token += "\\";
      token += ch;
      state = escaped;
    } else {
      // inside quotes
      quoted = true;
      if (ch === state) {
        state = "a";
      } else if (ch === "\\" && state === '"') {
        escaped = state;
        state = "\\";
      } else {
        token += ch;
      }
    }
  }
  if (state === "\\") throw new ShlexError("No escaped character", i - 1);
  if (state !== " " && state !== "a") throw new ShlexError("No closing quotation", quoteStart);
  if (state === "a") emit();
  return tokens;
}
