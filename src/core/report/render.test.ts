/**
 * The renderers: HTML escaping and self-containment, the SVG's rows / bars / marks / waves,
 * byte-identical output, failure reasons in text and Markdown, and a 2,000-host report's size.
 */
import { describe, expect, it } from "vitest";
import { events, host, input, syntheticFleet } from "../../../test/support/report-fixtures.js";
import { buildReport } from "./build.js";
import { offset } from "./format.js";
import { renderReport } from "./index.js";
import { mdCell } from "./render-markdown.js";

const EVIL = `<img src=x onerror="alert('x')">&|*`;

function hostile() {
  return buildReport(
    input(
      [host(`web<b>01`, { region: `eu"west<`, state: "failed", reason: `exit 1: ${EVIL}\n</td><script>` })],
      events([
        ["web<b>01", 0, "host.started", { wave: 0 }],
        ["web<b>01", 0, "attempt.started", { step: "st<e>p", attempt: 1 }],
        ["web<b>01", 10, "attempt.failed", { step: "st<e>p", attempt: 1, reason: EVIL, final: true }],
        ["web<b>01", 10, "host.failed", { reason: EVIL }],
      ]),
      ["st<e>p"],
    ),
  );
}

describe("renderers", () => {
  it("HTML escapes every text from the data", () => {
    const html = renderReport(hostile(), "html");
    expect(html).not.toContain("<img");
    expect(html).not.toContain("<script");
    expect(html).not.toContain("web<b>");
    expect(html).not.toContain('eu"west');
    expect(html).toContain("web&lt;b&gt;01");
    expect(html).toContain("&lt;img src=x onerror=&quot;alert(&#39;x&#39;)&quot;&gt;&amp;|*");
    expect(html).toContain('data-host="web&lt;b&gt;01"');
  });

  it("HTML is self-contained: no URL, no script, a CSP that forbids loading anything", () => {
    const html = renderReport(buildReport(syntheticFleet(2, 10)), "html");
    expect(html).not.toMatch(/https?:|\/\/[a-z]/i);
    expect(html).not.toMatch(/<script|<link|<img|<iframe|\son\w+=/i);
    expect(html).toContain(`content="default-src 'none'; style-src 'unsafe-inline'"`);
    expect(html).toMatch(/^<!doctype html>/);
  });

  it("the SVG draws one row per host, bars per attempt, failure and revert marks, wave lines", () => {
    const r = buildReport(syntheticFleet(2, 25));
    const svg = renderReport(r, "html");
    expect(svg.match(/<g class="row" /g)).toHaveLength(50);
    expect(svg.match(/class="bar /g)?.length).toBe(r.hosts.reduce((n, h) => n + h.segments.length, 0));
    expect(svg.match(/class="mk mk-failed"/g)).toHaveLength(r.totals.failed);
    expect(svg.match(/class="bar rv"/g)).toHaveLength(r.totals.rollbacks);
    expect(svg.match(/class="rvp"/g)).toHaveLength(r.totals.rollbacks);
    expect(svg.match(/<line class="wave" data-wave/g)).toHaveLength(3);
    expect(svg.match(/<g class="region"/g)).toHaveLength(2);
  });

  it("the makespan agrees with the first start and last finish shown next to it (both to the ms, no truncation)", () => {
    // 3h41m55.575s from 16:00:00.400 to 19:41:55.975: rounded 3h41m56s; cut to the second the
    // times would read 16:00:00 -> 19:41:55, a second short of it.
    const end = 400 + 13_315_575;
    const r = buildReport(
      input(
        [host("web01")],
        events([
          ["web01", 400, "host.started", { wave: 0 }],
          ["web01", 400, "attempt.started", { step: "a", attempt: 1 }],
          ["web01", end, "attempt.succeeded", { step: "a", attempt: 1 }],
          ["web01", end, "host.succeeded", {}],
        ]),
        ["a"],
      ),
    );
    expect(r.totals.makespanMs).toBe(13_315_575);
    expect(renderReport(r, "text")).toContain(
      "makespan 3h41m56s  (2026-11-21 16:00:00.400Z -> 2026-11-21 19:41:55.975Z)",
    );
    expect(renderReport(r, "md")).toContain(
      "- first host start: 2026-11-21 16:00:00.400Z; last host finish: 2026-11-21 19:41:55.975Z",
    );
    expect(renderReport(r, "html")).toContain(
      "first host start 2026-11-21 16:00:00.400Z · last host finish 2026-11-21 19:41:55.975Z",
    );
  });

  it("an unfinished run prints no makespan that reads as final: the time so far, labelled, in every format", () => {
    // web01 finished at 4.2 s; web02 still runs its step at 7 s, the last thing recorded.
    const r = buildReport(
      input(
        [host("web01", { region: "eu" }), host("web02", { region: "eu", order: 1, state: "running" })],
        events([
          ["web01", 0, "host.started", { wave: 0 }],
          ["web01", 0, "attempt.started", { step: "a", attempt: 1 }],
          ["web01", 4200, "attempt.succeeded", { step: "a", attempt: 1 }],
          ["web01", 4200, "host.succeeded", {}],
          ["web02", 7000, "host.started", { wave: 0 }],
          ["web02", 7000, "attempt.started", { step: "a", attempt: 1 }],
        ]),
        ["a"],
      ),
    );
    const note = "unfinished: 7s so far, from the first host start to the last recorded event";
    const text = renderReport(r, "text");
    expect(text).toContain(
      "  makespan -  (unfinished: 7s so far, from the first host start 2026-11-21 16:00:00.000Z to the last recorded event)\n",
    );
    expect(text).toMatch(/\neu +2 +1 +0 +0 +0 +0 +1 +0 +0 +- \(7s so far\)\n/);
    const md = renderReport(r, "md");
    expect(md).toContain("last host finish so far: 2026-11-21 16:00:04.200Z");
    expect(md).toContain(`- makespan: - (${note})`);
    expect(md).toContain("| 1 | 0 | 0 | - (7s so far) |");
    const html = renderReport(r, "html");
    expect(html).toContain("last host finish so far 2026-11-21 16:00:04.200Z");
    expect(html).toContain(`makespan - (${note})`);
    expect(html).toContain("<b>7s so far</b><span>makespan: unfinished</span>");
    expect(html).toContain("<td>- (7s so far)</td>");
    expect(html).toContain("makespan - (7s so far)</text>");
    // web01's 4.2 s (the span so far) is no makespan anywhere; the HTML has it only in a bar's tooltip.
    for (const out of [text, md]) expect(out).not.toMatch(/4\.2s/);
    expect(html).not.toMatch(/>4\.2s</);
    const json = JSON.parse(renderReport(r, "json"));
    expect(json.totals).toMatchObject({ makespanMs: null, makespanSoFarMs: 7000 });
    expect(json.regions[0]).toMatchObject({ makespanMs: null, makespanSoFarMs: 7000 });
  });

  it("HTML gives every count the other formats give: an unfinished card, and all of them in the region headers", () => {
    const r = buildReport(
      input(
        [
          host("a1", { region: "eu" }),
          host("a2", { region: "eu", order: 1, state: "skipped" }),
          host("a3", { region: "eu", order: 2, state: "aborted" }),
          host("a4", { region: "eu", order: 3, state: "pending" }),
          host("a5", { region: "eu", order: 4, state: "in_doubt" }),
        ],
        events([
          ["a1", 0, "host.started", { wave: 0 }],
          ["a1", 1000, "host.succeeded", {}],
          ["a2", 1500, "host.skipped", {}],
          ["a5", 1000, "host.started", { wave: 0 }],
          ["a5", 1500, "host.in_doubt", { reason: "?" }],
          ["a3", 2000, "host.aborted", { reason: "abort", step: null, after: null }],
        ]),
      ),
    );
    expect(r.totals).toMatchObject({ done: 1, skipped: 1, aborted: 1, unfinished: 1, inDoubt: 1 });
    const html = renderReport(r, "html");
    const cards = html.match(/<div class="cards">.*?<\/div><\/div>\n/s)?.[0] ?? "";
    for (const label of ["hosts", "done", "failed", "in doubt", "skipped", "aborted", "unfinished"])
      expect(cards).toContain(`<span>${label}</span>`);
    expect(cards).toContain("<b>1</b><span>unfinished</span>");
    expect(html).toContain(
      ">eu — 5 hosts: 1 done, 0 failed, 1 in doubt, 1 skipped, 1 aborted, 1 unfinished, makespan - (2s so far)</text>",
    );
  });

  it("a position before the origin prints with a minus sign (a host skipped before anything started)", () => {
    expect([offset(-60_000), offset(-1500), offset(-850), offset(0), offset(60_000), offset(null)]).toEqual([
      "-1m",
      "-1.5s",
      "-850ms",
      "0",
      "+1m",
      "-",
    ]);
    const r = buildReport(
      input(
        [host("a1"), host("a2", { order: 1, state: "skipped" })],
        events([
          ["a2", 0, "host.skipped", {}],
          ["a1", 60_000, "host.started", { wave: 0 }],
          ["a1", 61_000, "host.succeeded", {}],
        ]),
      ),
    );
    expect(r.hosts[1]?.marks[0]?.atMs).toBe(-60_000);
    expect(renderReport(r, "html")).toContain("<title>skipped (-1m)</title>");
  });

  it.each(["text", "json", "md", "html"] as const)("%s is deterministic", (format) => {
    const a = renderReport(buildReport(syntheticFleet(3, 10)), format);
    expect(renderReport(buildReport(syntheticFleet(3, 10)), format)).toBe(a);
  });

  it("text and Markdown give every failure's reason", () => {
    const r = buildReport(syntheticFleet(2, 50));
    for (const format of ["text", "md"] as const) {
      const out = renderReport(r, format);
      for (const f of r.failures) expect(out).toContain(f.host);
      expect(out).toContain("host never returned (rolled back)");
      expect(out).toContain("region-01");
    }
  });

  it("Markdown cells cannot break a table or inject HTML", () => {
    expect(mdCell("a|b\nc <b>*x*</b> [l](u)")).toBe("a\\|b c &lt;b&gt;\\*x\\*&lt;/b&gt; \\[l\\](u)");
    const md = renderReport(hostile(), "md");
    const row = md.split("\n").find((l) => l.startsWith("| web"));
    expect(row?.split(/(?<!\\)\|/).length).toBe(8);
  });

  it("workload downtime prints as a note, never as numbers it does not have", () => {
    const r = buildReport(syntheticFleet(1, 3));
    expect(renderReport(r, "text")).toContain("workload downtime: - (no workload data");
    expect(renderReport(r, "html")).toContain("No figures: no workload data");
    expect(JSON.parse(renderReport(r, "json")).workloadDowntime.p99Ms).toBeNull();
  });

  it("2,000 hosts: compact rows, a file of a few MB, built and rendered quickly", () => {
    const started = performance.now();
    const r = buildReport(syntheticFleet(40, 50));
    const html = renderReport(r, "html");
    const took = performance.now() - started;
    expect(html.match(/<g class="row" /g)).toHaveLength(2000);
    expect(html).toMatch(/<svg id="timeline" class="tl" width="\d+" height="(\d+)"/);
    const height = Number(html.match(/<svg id="timeline"[^>]* height="(\d+)"/)?.[1]);
    expect(height).toBeLessThan(2000 * 4 + 40 * 18 + 100);
    expect(html.length).toBeLessThan(8_000_000);
    expect(took).toBeLessThan(5_000);
  });
});
