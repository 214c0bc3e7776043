/**
 * Serving the built dashboard (dashboard/dist) from the same process: `/` is its index.html,
 * `/assets/*` its hashed files. Only files inside the directory are ever read.
 */
import { readFile } from "node:fs/promises";
import { extname, join, normalize, sep } from "node:path";
import type { FastifyInstance } from "fastify";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".json": "application/json",
  ".ico": "image/x-icon",
};

export function serveDashboard(app: FastifyInstance, dir: string): void {
  const root = normalize(dir + sep);
  const send = async (file: string, reply: import("fastify").FastifyReply) => {
    const path = normalize(join(root, file));
    if (!path.startsWith(root)) return reply.code(404).send({ error: "not found" });
    try {
      const body = await readFile(path);
      reply.header(
        "content-security-policy",
        "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'",
      );
      reply.header("x-content-type-options", "nosniff");
      return reply.type(TYPES[extname(path)] ?? "application/octet-stream").send(body);
    } catch {
      return reply.code(404).send({ error: "not found" });
    }
  };
  app.get("/", (_req, reply) => send("index.html", reply));
  app.get("/assets/*", (req, reply) => send(`assets/${(req.params as { "*": string })["*"]}`, reply));
}
