/**
 * StartWatch, the reader of a channel's stderr until the shell says it started: sudo's prompt,
 * "Sorry, try again." and a second prompt, the start line, whatever the chunks; what follows the
 * start line is the command's own stderr, byte for byte; what came before is sudo's words. And
 * the bootstrap run by this machine's `sh` with a framed script, whole and cut short.
 */
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import {
  BOOTSTRAP,
  frame,
  INCOMPLETE,
  SCRIPT_END,
  STARTED,
  StartWatch,
  SUDO_PROMPT,
} from "./session-start.js";

/** Feeds `text` to a fresh watch in chunks of `size` bytes; all events, and the command's stderr. */
function feedAll(text: string, size: number) {
  const w = new StartWatch();
  const bytes = Buffer.from(text);
  const events: string[] = [];
  const rest: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) {
    const got = w.feed(bytes.subarray(i, i + size));
    events.push(...got.events);
    if (got.rest) rest.push(got.rest);
  }
  return { events, rest: Buffer.concat(rest).toString(), said: w.said(), started: w.started };
}

describe("StartWatch", () => {
  for (const size of [1, 2, 7, 1000]) {
    it(`a prompt, then the start line, then the command's stderr (chunks of ${size})`, () => {
      const r = feedAll(`${SUDO_PROMPT}${STARTED}\nsudo: unknown user: svc\nünï\n`, size);
      expect(r).toEqual({
        events: ["prompt", "started"],
        rest: "sudo: unknown user: svc\nünï\n",
        said: "",
        started: true,
      });
    });

    it(`a wrong password: the prompt, "Sorry, try again.", the prompt again (chunks of ${size})`, () => {
      const r = feedAll(`${SUDO_PROMPT}Sorry, try again.\n${SUDO_PROMPT}`, size);
      expect(r.events).toEqual(["prompt", "again", "again"]);
      expect(r.started).toBe(false);
      expect(r.said).toBe("Sorry, try again.");
    });
  }

  it("no prompt (sudo -n refusing): sudo's words, and no start", () => {
    const r = feedAll("sudo: a password is required\n", 5);
    expect(r).toEqual({ events: [], rest: "", said: "sudo: a password is required", started: false });
  });

  it("the start line without a newline yet is not the start", () => {
    const w = new StartWatch();
    expect(w.feed(Buffer.from(STARTED)).events).toEqual([]);
    expect(w.feed(Buffer.from("\nerr\n"))).toEqual({ events: ["started"], rest: Buffer.from("err\n") });
  });
});

describe("BOOTSTRAP, run by sh", () => {
  const run = (input: Buffer) => spawnSync("/bin/sh", ["-c", BOOTSTRAP], { input, encoding: "utf8" });

  it("runs a whole script with stdin at EOF, after the start line", () => {
    const r = run(frame(`cat; echo "it's here"; echo err >&2; exit 3\n${SCRIPT_END}`));
    expect(r).toMatchObject({ status: 3, stdout: "it's here\n", stderr: `${STARTED}\nerr\n` });
  });

  it("runs nothing of a script cut short (exit 125)", () => {
    const whole = frame(`echo ran\n${SCRIPT_END}`);
    const r = run(whole.subarray(0, whole.length - 3));
    expect(r.status).toBe(125);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain(INCOMPLETE);
  });
});
