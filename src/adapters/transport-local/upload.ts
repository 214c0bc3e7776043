/**
 * `upload` for the local transport: write a file on this machine the way the SSH transport writes
 * one over SFTP.
 *
 * Invariants:
 * - Written to a temporary name beside the target, given its mode explicitly (no umask), then
 *   renamed over the target: readers see the old file or the whole new one. The temporary file is
 *   removed on failure.
 * - A missing directory is `unreachable`, a permission problem `auth`; nothing was written then.
 */
import { randomBytes } from "node:crypto";
import { chmod, rename, rm, writeFile } from "node:fs/promises";
import { basename, dirname, isAbsolute, join } from "node:path";
import { performance } from "node:perf_hooks";
import { TransportError } from "../../core/errors.js";
import type { Host } from "../../core/model/fleet.js";
import type { UploadRequest, UploadResult } from "../../ports/transport.js";

export async function uploadLocal(host: Host, req: UploadRequest): Promise<UploadResult> {
  const started = performance.now();
  const dest = req.remotePath;
  if (req.signal?.aborted)
    throw new TransportError("unreachable", `${host.name}: aborted before the upload started`);
  if (!isAbsolute(dest)) {
    throw new TransportError(
      "unreachable",
      `${host.name}: upload path ${JSON.stringify(dest)} is not absolute`,
    );
  }
  const data = typeof req.content === "string" ? Buffer.from(req.content, "utf8") : req.content;
  const mode = req.mode ?? 0o644;
  const tmp = join(dirname(dest), `.${basename(dest)}.overhaul-${randomBytes(4).toString("hex")}`);
  try {
    await writeFile(tmp, data, { mode });
    await chmod(tmp, mode);
    await rename(tmp, dest);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined);
    const code = (e as NodeJS.ErrnoException).code;
    throw new TransportError(
      code === "EACCES" || code === "EPERM" ? "auth" : "unreachable",
      `${host.name}: cannot upload ${dest}: ${code ?? (e as Error).message}; ${dest} is unchanged`,
      { cause: e },
    );
  }
  return { bytes: data.length, durationMs: performance.now() - started };
}
