/**
 * Uploading one file over SFTP on a pooled connection.
 *
 * Invariants:
 * - The file is written to a temporary name beside the target, given its mode explicitly
 *   (`fchmod`, so the remote umask does not change it), closed, then renamed over the target
 *   (`posix-rename@openssh.com` when the server has it, else unlink + rename). Readers see the
 *   old file or the whole new one, never a partial one. The temporary file is removed on failure.
 * - Rejections: `ChannelRefused` (no channel on a live connection; caller retries), `auth` (the
 *   server refused the write: permission denied), `unreachable` (the SFTP subsystem could not be
 *   started or the path is not writable; the target is unchanged), `timeout` / `dropped` (the
 *   transfer was cut; the target may or may not have been replaced).
 * - Writes as the login user (no become); content never appears in messages.
 */
import { randomBytes } from "node:crypto";
import { posix } from "node:path";
import { performance } from "node:perf_hooks";
import type { SFTPWrapper } from "ssh2";
import { TransportError } from "../../core/errors.js";
import type { UploadRequest, UploadResult } from "../../ports/transport.js";
import { ChannelRefused } from "./exec.js";
import type { Lease } from "./pool.js";

const CHUNK = 256 * 1024;
const SFTP_PERMISSION_DENIED = 3;

export function uploadOnChannel(
  lease: Lease,
  who: string,
  req: UploadRequest,
  timeoutMs: number,
  started: number,
): Promise<UploadResult> {
  const data = typeof req.content === "string" ? Buffer.from(req.content, "utf8") : Buffer.from(req.content);
  const mode = req.mode ?? 0o644;
  const dest = req.remotePath;
  const tmp = posix.join(
    posix.dirname(dest),
    `.${posix.basename(dest)}.overhaul-${randomBytes(4).toString("hex")}`,
  );
  return new Promise<UploadResult>((resolve, reject) => {
    let sftp: SFTPWrapper | undefined;
    let settled = false;
    let wrote = false;
    const finish = (err?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.signal?.removeEventListener("abort", onAbort);
      if (err) {
        if (sftp && wrote && !lease.dead) {
          const s = sftp;
          s.unlink(tmp, () => s.end());
        } else sftp?.end();
        reject(err);
      } else {
        sftp?.end();
        resolve({ bytes: data.length, durationMs: performance.now() - started });
      }
    };
    const cut = (kind: "timeout" | "dropped", why: string) =>
      finish(
        new TransportError(
          kind,
          `${who}: upload of ${dest} ${why}; the file may or may not have been replaced`,
        ),
      );
    const timer = setTimeout(() => cut("timeout", `timed out after ${timeoutMs} ms`), Math.max(0, timeoutMs));
    const onAbort = () => cut("dropped", "was aborted");
    req.signal?.addEventListener("abort", onAbort, { once: true });

    const step = (what: string, next: () => void) => (err: Error | null | undefined) => {
      if (settled) return;
      if (!err) return next();
      if (lease.dead) return cut("dropped", "lost its connection");
      const code = (err as Error & { code?: number }).code;
      const kind = code === SFTP_PERMISSION_DENIED ? "auth" : "unreachable";
      finish(
        new TransportError(
          kind,
          `${who}: cannot upload ${dest}: ${what}: ${err.message}; ${dest} is unchanged`,
        ),
      );
    };

    try {
      lease.client.sftp((err, s) => {
        if (err) {
          const reason = (err as Error & { reason?: number }).reason;
          if (reason !== undefined && !lease.dead) return finish(new ChannelRefused(err.message));
          return finish(
            new TransportError(
              "unreachable",
              `${who}: cannot start SFTP: ${err.message}; nothing was written`,
              {
                cause: err,
              },
            ),
          );
        }
        sftp = s;
        s.on("error", () => undefined);
        s.on("close", () => {
          if (!settled) cut("dropped", "lost its SFTP session");
        });
        if (settled) return s.end();
        s.open(tmp, "w", { mode }, (e, handle) => {
          step(`creating ${tmp}`, () => {
            wrote = true;
            let offset = 0;
            const writeNext = () => {
              if (offset >= data.length) {
                s.fchmod(
                  handle,
                  mode,
                  step("setting its mode", () => s.close(handle, step("closing it", rename))),
                );
                return;
              }
              const len = Math.min(CHUNK, data.length - offset);
              s.write(handle, data, offset, len, offset, step("writing", writeNext));
              offset += len;
            };
            writeNext();
          })(e);
        });
        const rename = () => {
          const done = step(`renaming it to ${dest}`, () => finish());
          try {
            s.ext_openssh_rename(tmp, dest, done);
          } catch {
            s.unlink(dest, () => s.rename(tmp, dest, done));
          }
        };
      });
    } catch (e) {
      finish(
        new TransportError(
          "unreachable",
          `${who}: the connection is not usable: ${(e as Error).message}; nothing was written`,
        ),
      );
    }
  });
}
