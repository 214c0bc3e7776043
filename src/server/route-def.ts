/**
 * How an API route is declared: one entry in the route table (routes.ts) gives its method, path,
 * the role it needs, the audit action it writes (for anything that changes something), and the
 * zod schemas its input is validated against. The app (app.ts), the OpenAPI document
 * (openapi.ts) and the authorization test matrix are all derived from that one table, so a route
 * cannot exist without a role, a schema and a row in the matrix.
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import type { z } from "zod";
import type { Role } from "../core/access/roles.js";
import type { TokenRecord } from "../ports/access.js";
import type { ServerDeps } from "./deps.js";
import type { LiveEvents } from "./live.js";

export type Access = Role | "public";

export interface Principal {
  token: TokenRecord;
  remote: string;
}

export interface Ctx<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  principal: Principal | undefined;
  deps: ServerDeps;
  live: LiveEvents;
  req: FastifyRequest;
  reply: FastifyReply;
}

export interface RouteDef<P = unknown, Q = unknown, B = unknown> {
  method: "GET" | "POST" | "DELETE";
  /** Fastify syntax: `/api/runs/:id`. */
  url: string;
  access: Access;
  summary: string;
  /** Audit action (`run.pause`); every route that changes something has one. */
  action?: string;
  params?: z.ZodType<P>;
  query?: z.ZodType<Q>;
  body?: z.ZodType<B>;
  /** `json` (default), `sse` (text/event-stream, the handler owns the reply), `raw` (handler sets type). */
  produces?: "json" | "sse" | "raw";
  /** HTTP status of a success (default 200). */
  status?: number;
  /** What the audit entry names as the target. */
  target?(params: P, body: B): string | null;
  handler(ctx: Ctx<P, Q, B>): Promise<unknown>;
}

/** Keeps each route's parameter types while the table holds them all. */
export function route<P = Record<string, never>, Q = Record<string, never>, B = undefined>(
  def: RouteDef<P, Q, B>,
): RouteDef {
  return def as unknown as RouteDef;
}
