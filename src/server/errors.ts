/**
 * How the service answers errors: every error answer is JSON `{error}`, plus `problems` (each
 * with its path) when the request itself is malformed, whoever refused it — a route's handler
 * (typed errors), Fastify before the handler (body, routing) or Node's HTTP parser.
 *
 * Invariants:
 * - Typed errors map to statuses: InputError 400, NotFoundError 404, SafetyRefusal and other
 *   refusals 409; anything else is 500 and its message is not sent.
 * - Fastify's and Node's refusals keep their status (400, 413, 414, 415, 431, 408); only the shape
 *   changes, and their messages are ours or Fastify's fixed ones (nothing from the server's state).
 */
import { STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";
import type { FastifyError } from "fastify";
import { InputError, NotFoundError, OverhaulError, SafetyRefusal } from "../core/errors.js";

/** A refusal with its status and answer (401, 403), thrown inside a route's handling. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
  ) {
    super(String(body.error));
  }
}

export type Answer = { status: number; body: Record<string, unknown> };

/** Longer than any path parameter a route's schema accepts (see routes.ts). */
export const MAX_PARAM_LENGTH = 1000;

/** What Fastify refused before a handler ran, in the API's shape (its status kept). */
export function frameworkAnswer(err: FastifyError): Answer {
  const status = err.statusCode ?? 500;
  if (status < 400 || status >= 500) return { status: 500, body: { error: "internal error" } };
  const where =
    err.code === "FST_ERR_BAD_URL" || err.code === "FST_ERR_MAX_PARAM_LENGTH"
      ? { path: "url", message: urlProblem(err.code) }
      : { path: "body", message: err.message };
  return { status, body: { error: "invalid input", problems: [where] } };
}

function urlProblem(code: string): string {
  return code === "FST_ERR_BAD_URL"
    ? "a path segment is not valid percent-encoding"
    : `a path segment is longer than ${MAX_PARAM_LENGTH} characters`;
}

/** Answer a request Node's HTTP parser refused, in the API's shape, and close the connection. */
export function clientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === "ECONNRESET" || socket.destroyed) return;
  const [status, body]: [number, Record<string, unknown>] =
    err.code === "HPE_HEADER_OVERFLOW"
      ? [
          431,
          {
            error: "invalid input",
            problems: [{ path: "headers", message: "the request line and headers exceed 16 KiB" }],
          },
        ]
      : err.code === "ERR_HTTP_REQUEST_TIMEOUT"
        ? [408, { error: "request timeout" }]
        : [
            400,
            { error: "invalid input", problems: [{ path: "request", message: "not a valid HTTP request" }] },
          ];
  const text = JSON.stringify(body);
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json; charset=utf-8\r\n` +
        `content-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`,
    );
  }
  socket.destroy();
}

export function errorAnswer(err: unknown): Answer {
  if (err instanceof HttpError) return { status: err.status, body: err.body };
  if (err instanceof InputError)
    return { status: 400, body: { error: "invalid input", problems: err.problems } };
  if (err instanceof NotFoundError) return { status: 404, body: { error: err.message } };
  if (err instanceof SafetyRefusal) return { status: 409, body: { error: err.message, rule: err.rule } };
  if (err instanceof OverhaulError && err.name === "OverhaulError")
    return { status: 409, body: { error: err.message } };
  return { status: 500, body: { error: "internal error" } };
}
