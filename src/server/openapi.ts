/**
 * The OpenAPI 3.1 document, generated from the route table (the same zod schemas that validate
 * requests), so the document cannot drift from what the service accepts.
 */
import { z } from "zod";
import type { RouteDef } from "./route-def.js";

type Json = Record<string, unknown>;

function schemaOf(t: z.ZodType): Json {
  return z.toJSONSchema(t, { io: "input", unrepresentable: "any" }) as Json;
}

function paramsOf(def: RouteDef): Json[] {
  const out: Json[] = [];
  for (const [where, t] of [
    ["path", def.params],
    ["query", def.query],
  ] as const) {
    if (!t) continue;
    const s = schemaOf(t) as { properties?: Record<string, Json>; required?: string[] };
    for (const [name, schema] of Object.entries(s.properties ?? {})) {
      out.push({ name, in: where, required: where === "path" || (s.required ?? []).includes(name), schema });
    }
  }
  return out;
}

export function openApiDocument(routes: readonly RouteDef[], version: string): Json {
  const paths: Record<string, Json> = {};
  for (const def of routes) {
    const path = def.url.replace(/:([A-Za-z]+)/g, "{$1}");
    const op: Json = {
      summary: def.summary,
      operationId: `${def.method.toLowerCase()}${def.url.replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ""))}`,
      "x-overhaul-role": def.access,
      ...(def.action ? { "x-overhaul-audit-action": def.action } : {}),
      parameters: paramsOf(def),
      responses: {
        [String(def.status ?? 200)]: {
          description: "success",
          content:
            def.produces === "sse"
              ? { "text/event-stream": {} }
              : def.produces === "raw"
                ? { "text/plain": {} }
                : { "application/json": {} },
        },
        "400": { description: "invalid input: `problems` lists each with its exact path" },
        ...(def.access === "public"
          ? {}
          : {
              "401": { description: "no token, or an unknown or revoked one" },
              "403": { description: `the token's role is below ${def.access}` },
            }),
        "404": { description: "no such run, host, plan or token" },
        "409": {
          description: "the action is not possible in the current state, or a safety rule refused it",
        },
      },
      ...(def.access === "public" ? { security: [] } : {}),
    };
    if (def.body)
      op.requestBody = { required: true, content: { "application/json": { schema: schemaOf(def.body) } } };
    paths[path] = { ...(paths[path] ?? {}), [def.method.toLowerCase()]: op };
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "Overhaul coordinator service",
      version,
      description:
        "Plans, runs, hosts, events, reports and runbooks of Overhaul. Bearer tokens with roles viewer, operator, admin (`overhaul token create`).",
    },
    components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
    security: [{ bearer: [] }],
    paths,
  };
}
