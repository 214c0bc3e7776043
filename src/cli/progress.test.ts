import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { EventRecord } from "../ports/store.js";
import type { Out } from "./output.js";
import { Progress } from "./progress.js";

const T0 = Date.UTC(2026, 10, 21, 20, 0);
const HOSTS = ["h1", "h2", "h3", "h4"].map((host) => ({ host, state: "pending" as const }));
const GATE = 'gate "canary-ok" awaits approval: run `overhaul resume r1 --detach`';

function ev(type: string, data: Record<string, unknown> = {}, host: string | null = null, actor = "c1") {
  return { runId: "r1", host, at: T0 + 5_000, type, actor, data } satisfies Omit<EventRecord, "seq">;
}

function capture(): Out & { text: () => string } {
  let text = "";
  return {
    color: false,
    write: () => {},
    err: (s) => {
      text += s;
    },
    text: () => text,
  };
}

/** The last block drawn on the terminal. */
function lastFrame(out: { text: () => string }): string {
  const frames = out.text().split("\u001b[J");
  return frames[frames.length - 1] ?? "";
}

describe("live progress on a terminal", () => {
  let wasTty: boolean | undefined;
  beforeEach(() => {
    vi.useFakeTimers();
    wasTty = process.stderr.isTTY;
    process.stderr.isTTY = true;
  });
  afterEach(() => {
    process.stderr.isTTY = wasTty as boolean;
    vi.useRealTimers();
  });

  it("says the run is paused at a gate, and how to approve it; nothing once it runs again", () => {
    const out = capture();
    const p = new Progress(out, HOSTS, T0);
    p.emit(ev("wave.started", { wave: 0 }));
    p.emit(ev("host.started", { wave: 0 }, "h1"));
    p.emit(ev("attempt.started", { step: "canary-ok" }, "h1"));
    p.emit(ev("run.paused", { from: "running", gate: "canary-ok", reason: GATE }));
    vi.advanceTimersByTime(300);
    expect(lastFrame(out)).toContain(`PAUSED — ${GATE}`);
    p.emit(ev("run.running", { from: "paused", action: "resume" }, null, "operator:alice"));
    vi.advanceTimersByTime(300);
    expect(lastFrame(out)).not.toContain("PAUSED");
    expect(lastFrame(out)).toContain("h1: canary-ok");
    p.stop();
  });

  it("says who paused or aborted the run and why, and why it is halting", () => {
    const out = capture();
    const p = new Progress(out, HOSTS, T0);
    p.emit(
      ev("run.paused", { from: "running", action: "pause", reason: "looking at h1" }, null, "operator:bob"),
    );
    vi.advanceTimersByTime(300);
    expect(lastFrame(out)).toContain("PAUSED by operator:bob — looking at h1");
    p.emit(ev("run.running", { from: "paused", action: "resume" }, null, "operator:bob"));
    p.emit(ev("run.halting", { from: "running", reason: "failure budget exceeded: 2 of 4 hosts failed" }));
    vi.advanceTimersByTime(300);
    expect(lastFrame(out)).toContain("HALTING — failure budget exceeded: 2 of 4 hosts failed");
    // An operator's action without --reason: the store's reason is "abort by ACTOR".
    p.emit(ev("run.aborting", { from: "halting", action: "abort" }, null, "operator:carol"));
    vi.advanceTimersByTime(300);
    expect(lastFrame(out)).toContain("ABORTING by operator:carol");
    expect(lastFrame(out)).not.toContain("HALTING");
    p.stop();
  });

  it("starts from the run's state when it is picked up paused", () => {
    const out = capture();
    const p = new Progress(out, HOSTS, T0, false, { state: "paused", reason: "pause by operator:dave" });
    vi.advanceTimersByTime(300);
    expect(lastFrame(out)).toContain("PAUSED — pause by operator:dave");
    p.stop();
  });

  it("says whom it waits for to take the run over, until it holds hosts", () => {
    const out = capture();
    const p = new Progress(out, HOSTS, T0);
    const at = T0 + 5_000;
    p.emit({
      ...ev("takeover.waiting", {
        holders: ["ops1:4242:abc123"],
        heldUntil: at + 12_000,
        giveUpAt: at + 42_050,
      }),
    });
    vi.advanceTimersByTime(300);
    expect(lastFrame(out)).toContain(
      "WAITING — run held by coordinator ops1:4242:abc123 until 20:00:17Z; waiting up to 43 s to take over (Ctrl-C is safe: this one holds nothing yet)",
    );
    p.emit(ev("lease.acquired", { hosts: 4, owner: "c1" }));
    vi.advanceTimersByTime(300);
    expect(lastFrame(out)).not.toContain("WAITING");
    p.stop();
  });

  it("takes a host an operator retried or skipped off the failures, and counts it again", () => {
    const out = capture();
    const p = new Progress(out, HOSTS, T0);
    p.emit(ev("host.failed", { reason: "step work failed" }, "h2"));
    p.emit(ev("host.in_doubt", { reason: "step work outcome unknown" }, "h3"));
    vi.advanceTimersByTime(300);
    expect(lastFrame(out)).toContain("✗ h2: step work failed");
    p.emit(ev("host.retried", { from: "failed" }, "h2", "operator:bob"));
    p.emit(ev("host.skipped", { from: "in_doubt" }, "h3", "operator:bob"));
    vi.advanceTimersByTime(300);
    expect(lastFrame(out)).not.toContain("✗");
    expect(lastFrame(out)).toContain("pending 3  skipped 1");
    p.stop();
  });

  it("counts the rows of a line the terminal wraps when it draws over the last block", () => {
    const out = capture();
    const cols = process.stderr.columns;
    process.stderr.columns = 40;
    try {
      const p = new Progress(out, HOSTS, T0);
      p.emit(ev("host.failed", { reason: `step "work" failed after 3 attempt(s): ${"x".repeat(60)}` }, "h2"));
      p.emit(ev("run.paused", { from: "running", gate: "canary-ok", reason: GATE }));
      vi.advanceTimersByTime(300);
      const block = lastFrame(out);
      const rows = block
        .trimEnd()
        .split("\n")
        .reduce((n, l) => n + Math.max(1, Math.ceil(l.length / 40)), 0);
      vi.advanceTimersByTime(250);
      // The next frame moves the cursor up over every row the last one took, wrapped ones included.
      expect(out.text()).toContain(`\u001b[${rows}A\u001b[J${block}`);
      p.stop();
    } finally {
      process.stderr.columns = cols;
    }
  });
});

describe("live progress in a log (not a terminal)", () => {
  let wasTty: boolean | undefined;
  beforeEach(() => {
    wasTty = process.stderr.isTTY;
    process.stderr.isTTY = false;
  });
  afterEach(() => {
    process.stderr.isTTY = wasTty as boolean;
  });

  it("prints each change of the run's state with who made it and why", () => {
    const out = capture();
    const p = new Progress(out, HOSTS, T0);
    p.emit(
      ev("run.paused", { from: "running", action: "pause", reason: "looking at h1" }, null, "operator:bob"),
    );
    p.emit(ev("run.running", { from: "paused", action: "resume" }, null, "operator:bob"));
    p.emit(ev("run.paused", { from: "running", gate: "canary-ok", reason: GATE }));
    p.emit(ev("gate.approved", { step: "canary-ok" }, null, "operator:bob"));
    p.emit(ev("host.retried", { from: "failed" }, "h2", "operator:bob"));
    p.emit(ev("takeover.waiting", { holders: ["a", "b"], heldUntil: T0 + 9_000, giveUpAt: T0 + 40_000 }));
    p.stop();
    expect(out.text()).toBe(
      [
        "00:05 run PAUSED by operator:bob — looking at h1",
        "00:05 run running again (resumed by operator:bob)",
        `00:05 run PAUSED — ${GATE}`,
        '00:05 gate "canary-ok" approved by operator:bob',
        "00:05 h2 retried by operator:bob (it was failed)",
        "00:05 waiting: run held by coordinators a, b until 20:00:09Z; waiting up to 35 s to take over (Ctrl-C is safe: this one holds nothing yet)",
        "",
      ].join("\n"),
    );
  });
});
