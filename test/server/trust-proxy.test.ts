/**
 * `serve --trust-proxy`: the audit log's client address is the one a trusted proxy forwarded
 * (X-Forwarded-For), and without it a forwarded address is ignored (anyone could send one). The
 * flag's value is checked: addresses or CIDRs only.
 */
import { afterEach, describe, expect, it } from "vitest";
import { proxyList } from "../../src/cli/commands/serve.js";
import { InputError } from "../../src/core/errors.js";
import { startTestServer, type TestServer } from "../support/server.js";

let t: TestServer | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

async function pauseFrom(server: TestServer, forwardedFor: string): Promise<string | undefined> {
  const res = await fetch(`${server.url}/api/runs/${server.run.id}/pause`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${server.tokens.operator}`,
      "content-type": "application/json",
      "x-forwarded-for": forwardedFor,
    },
    body: "{}",
  });
  expect(res.status).toBe(200);
  const audit = (await (
    await fetch(`${server.url}/api/audit`, { headers: { authorization: `Bearer ${server.tokens.admin}` } })
  ).json()) as { action: string; remote: string }[];
  return audit.filter((a) => a.action === "run.pause").at(-1)?.remote;
}

describe("serve --trust-proxy", () => {
  it("audits the forwarded client address when the peer is a trusted proxy", async () => {
    t = await startTestServer({}, { trustProxy: ["127.0.0.1"] });
    expect(await pauseFrom(t, "203.0.113.9")).toBe("203.0.113.9");
  });

  it("ignores X-Forwarded-For from a peer that is not trusted", async () => {
    t = await startTestServer();
    expect(await pauseFrom(t, "203.0.113.9")).toBe("127.0.0.1");
  });

  it("takes addresses and CIDRs, and names anything else", () => {
    expect(proxyList("10.0.0.5, 10.1.0.0/16,::1,fd00::/8")).toEqual([
      "10.0.0.5",
      "10.1.0.0/16",
      "::1",
      "fd00::/8",
    ]);
    for (const bad of ["true", "10.0.0.0/33", "proxy.example", "10.0.0.1/8/1", ""]) {
      let err: unknown;
      try {
        proxyList(bad);
      } catch (e) {
        err = e;
      }
      expect(err, bad).toBeInstanceOf(InputError);
      expect((err as InputError).problems[0]?.path).toBe("--trust-proxy");
    }
  });
});
