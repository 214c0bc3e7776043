/**
 * In-process SSH servers for fast tests (and benches): ssh2 `Server` on 127.0.0.1, random port.
 *
 * Invariants:
 * - Each server has its own host key (ed25519 unless asked otherwise) and accepts public keys
 *   listed per user; it never accepts passwords or "none".
 * - `exec` runs the command with `bash -c` in its own process group (cwd: the server's directory,
 *   PATH prefixed with `binDir` so tests can plant fake programs such as `sudo`); `signal`
 *   requests signal that group. A `script` hook can answer instead of running anything.
 * - Every exec request's command line is recorded in `commands`, so tests can assert that nothing
 *   ran (and that no secret was sent in a command line); every script the client sends on stdin
 *   (the SSH transport's length-prefixed frame, after its bootstrap line) in `scripts`.
 * - A `script` hook sees the exec line, and for the transport's bootstrap also the script: the
 *   server then plays the bootstrap itself (says the shell started, reads the script) and runs the
 *   script unless the hook answers.
 * - `env` requests are refused, as default sshd does (AcceptEnv).
 * - `direct-tcpip` (what ProxyJump uses) is allowed only when `allowForwarding` is set.
 * - SFTP: open/write/close/fsetstat/setstat/rename/remove/stat against the real file
 *   system. Enough for uploads.
 * - `dropConnections()` destroys every client socket (a host vanishing mid-command); `close()`
 *   kills every process it started and frees the port.
 */
import { type ChildProcess, spawn } from "node:child_process";
import {
  chmodSync,
  closeSync,
  fstatSync,
  fsyncSync,
  openSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import type { AddressInfo } from "node:net";
import { connect as netConnect, type Socket } from "node:net";
import type { Connection, ParsedKey, ServerChannel, SFTPWrapper } from "ssh2";
import ssh2 from "ssh2";

const { Server, utils } = ssh2;
const { OPEN_MODE, STATUS_CODE } = utils.sftp;

export interface KeyPair {
  /** OpenSSH private key text (write it to a file with mode 0600). */
  private: string;
  /** `ssh-ed25519 AAAA...` */
  public: string;
  /** Raw public key blob. */
  blob: Buffer;
}

export function generateKey(type: "ed25519" | "ecdsa" = "ed25519", passphrase?: string): KeyPair {
  // ssh2's generator drops a leading zero byte of about 1 ed25519 key in 256, writing a key that
  // nothing can parse: generate again until both halves parse.
  for (;;) {
    const k =
      type === "ed25519"
        ? passphrase
          ? utils.generateKeyPairSync("ed25519", { passphrase, cipher: "aes256-ctr", rounds: 2 })
          : utils.generateKeyPairSync("ed25519")
        : utils.generateKeyPairSync("ecdsa", { bits: 256 });
    const parsed = utils.parseKey(k.public);
    const priv = utils.parseKey(k.private, passphrase);
    if (parsed instanceof Error || priv instanceof Error) continue;
    if (typeof (parsed as Partial<ParsedKey>).getPublicSSH !== "function") continue;
    return { private: k.private, public: k.public, blob: (parsed as ParsedKey).getPublicSSH() };
  }
}

export interface ScriptedReply {
  stdout?: string;
  stderr?: string;
  code?: number;
  /** Never answer (to test timeouts). */
  hang?: boolean;
  /** Destroy the connection instead of answering (to test drops). */
  drop?: boolean;
}

export interface TestServerOptions {
  /** user -> authorized public keys (`ssh-ed25519 AAAA...` lines or blobs). */
  users: Record<string, (string | Buffer)[]>;
  hostKey?: KeyPair;
  /** Working directory for commands. */
  dir: string;
  /** Directory put first on PATH for commands (fake sudo, ...). */
  binDir?: string;
  /** Answer some commands without running them; return undefined to run normally. */
  script?: (command: string) => ScriptedReply | undefined;
  allowForwarding?: boolean;
  /** Refuse session channels beyond this many at once per connection (like sshd MaxSessions). */
  maxSessions?: number;
  port?: number;
}

export interface TestServer {
  readonly port: number;
  readonly hostKey: KeyPair;
  /** Every exec command line received, in order. */
  readonly commands: string[];
  /** Every script received on stdin after a bootstrap line, in order. */
  readonly scripts: string[];
  /** Connections accepted (authenticated or not). */
  connections: number;
  /** Peak session channels open at once on one connection. */
  peakSessions: number;
  /** Forwarded (direct-tcpip) connections made for clients. */
  forwards: string[];
  dropConnections(): void;
  close(): Promise<void>;
}

export async function startTestServer(o: TestServerOptions): Promise<TestServer> {
  const hostKey = o.hostKey ?? generateKey();
  const allowed = new Map<string, ParsedKey[]>();
  for (const [user, keys] of Object.entries(o.users)) {
    allowed.set(
      user,
      keys.map((k) => utils.parseKey(k) as ParsedKey),
    );
  }
  const clients = new Set<Connection>();
  const sockets = new Set<Socket>();
  const children = new Set<ChildProcess>();
  const state: {
    commands: string[];
    scripts: string[];
    connections: number;
    peakSessions: number;
    forwards: string[];
  } = {
    commands: [],
    scripts: [],
    connections: 0,
    peakSessions: 0,
    forwards: [],
  };

  const server = new Server({ hostKeys: [hostKey.private] }, (client) => {
    state.connections++;
    // ssh2's Connection has setNoDelay (see its README); @types/ssh2 leaves it out.
    (client as unknown as { setNoDelay(on: boolean): void }).setNoDelay(true);
    clients.add(client);
    client.on("error", () => undefined);
    client.on("close", () => clients.delete(client));
    client.on("authentication", (ctx) => {
      if (ctx.method !== "publickey") return ctx.reject(["publickey"]);
      const keys = allowed.get(ctx.username) ?? [];
      const match = keys.find((k) => k.getPublicSSH().equals(ctx.key.data));
      if (!match) return ctx.reject(["publickey"]);
      if (!ctx.signature) return ctx.accept(); // the "would you accept this key?" query
      if (ctx.blob && match.verify(ctx.blob, ctx.signature, ctx.hashAlgo)) return ctx.accept();
      return ctx.reject(["publickey"]);
    });
    client.on("ready", () => {
      let sessions = 0;
      client.on("session", (accept, reject) => {
        if (o.maxSessions !== undefined && sessions >= o.maxSessions) return reject();
        sessions++;
        state.peakSessions = Math.max(state.peakSessions, sessions);
        const session = accept();
        let child: ChildProcess | undefined;
        let closed = false;
        const done = () => {
          if (closed) return;
          closed = true;
          sessions--;
        };
        session.on("close", done);
        session.on("env", (_accept, rejectEnv) => rejectEnv?.());
        session.on("signal", (acceptSig, _rejectSig, info) => {
          acceptSig?.();
          if (child?.pid) {
            try {
              process.kill(-child.pid, `SIG${info.name}` as NodeJS.Signals);
            } catch {
              // already gone
            }
          }
        });
        session.on("exec", (acceptExec, _rejectExec, info) => {
          state.commands.push(info.command);
          const stream = acceptExec();
          stream.on("close", done);
          const reply = o.script?.(info.command);
          if (reply) return answer(stream, reply, client);
          const bootstrap = info.command.includes(SHELL_STARTED);
          if (!o.script || !bootstrap) {
            if (bootstrap)
              stream.on(
                "data",
                frameReader((text) => state.scripts.push(text)),
              );
            child = run(info.command, stream, o, children);
            return;
          }
          // Play the bootstrap: say the shell started, read the script, then answer or run it.
          stream.stderr.write(`${SHELL_STARTED}\n`);
          stream.on(
            "data",
            frameReader((text) => {
              state.scripts.push(text);
              const scripted = o.script?.(text);
              if (scripted) return answer(stream, scripted, client);
              child = run(text, stream, o, children, false);
            }),
          );
        });
        session.on("sftp", (acceptSftp) => {
          const sftp = acceptSftp();
          serveSftp(sftp);
          sftp.on("close", done);
        });
      });
      client.on("tcpip", (accept, reject, info) => {
        if (!o.allowForwarding) return reject();
        state.forwards.push(`${info.destIP}:${info.destPort}`);
        const sock = netConnect(info.destPort, info.destIP);
        sockets.add(sock);
        sock.on("close", () => sockets.delete(sock));
        sock.once("connect", () => {
          const ch = accept();
          ch.pipe(sock).pipe(ch);
          ch.on("error", () => sock.destroy());
          sock.on("error", () => ch.destroy());
        });
        sock.once("error", () => reject());
      });
    });
  });
  server.on("error", () => undefined);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port ?? 0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    hostKey,
    commands: state.commands,
    scripts: state.scripts,
    get connections() {
      return state.connections;
    },
    set connections(v: number) {
      state.connections = v;
    },
    get peakSessions() {
      return state.peakSessions;
    },
    set peakSessions(v: number) {
      state.peakSessions = v;
    },
    get forwards() {
      return state.forwards;
    },
    set forwards(v: string[]) {
      state.forwards = v;
    },
    dropConnections() {
      for (const c of clients) (c as unknown as { _sock: Socket })._sock.destroy();
    },
    async close() {
      for (const c of children) killGroup(c);
      for (const c of clients) (c as unknown as { _sock: Socket })._sock.destroy();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function answer(stream: ServerChannel, reply: ScriptedReply, client: Connection): void {
  if (reply.hang) return;
  if (reply.drop) {
    (client as unknown as { _sock: Socket })._sock.destroy();
    return;
  }
  if (reply.stdout) stream.write(reply.stdout);
  if (reply.stderr) stream.stderr.write(reply.stderr);
  stream.exit(reply.code ?? 0);
  stream.end();
}

/** What the SSH transport's bootstrap line says first (src/adapters/transport-ssh/session-start.ts). */
const SHELL_STARTED = "overhaul: shell started";

/** Calls `got` with the first length-prefixed frame ("<bytes>\n<script>") of a stream's data. */
function frameReader(got: (text: string) => void): (chunk: Buffer) => void {
  let buf = Buffer.alloc(0);
  let done = false;
  return (chunk) => {
    if (done) return;
    buf = Buffer.concat([buf, chunk]);
    const nl = buf.indexOf(10);
    if (nl < 0) return;
    const n = Number(buf.subarray(0, nl).toString());
    if (buf.length - nl - 1 < n) return;
    done = true;
    got(buf.subarray(nl + 1, nl + 1 + n).toString());
  };
}

function run(
  command: string,
  stream: ServerChannel,
  o: TestServerOptions,
  children: Set<ChildProcess>,
  stdin = true,
): ChildProcess {
  const env = { ...process.env, PATH: o.binDir ? `${o.binDir}:${process.env.PATH}` : process.env.PATH };
  const child = spawn("bash", ["-c", command], {
    cwd: o.dir,
    env,
    detached: true,
    stdio: [stdin ? "pipe" : "ignore", "pipe", "pipe"],
  });
  children.add(child);
  if (stdin) stream.pipe(child.stdin as NodeJS.WritableStream).on("error", () => undefined);
  child.stdin?.on("error", () => undefined);
  child.stdout?.on("data", (d: Buffer) => stream.write(d));
  child.stderr?.on("data", (d: Buffer) => stream.stderr.write(d));
  stream.on("close", () => {
    // Client went away: like sshd, do not kill; but the test server cleans up on close().
  });
  child.on("close", (code, signal) => {
    children.delete(child);
    try {
      if (signal) stream.exit(signal.replace(/^SIG/, ""), false, "");
      else stream.exit(code ?? 0);
      stream.end();
    } catch {
      // the channel is gone
    }
  });
  return child;
}

function killGroup(c: ChildProcess): void {
  if (c.pid === undefined) return;
  try {
    process.kill(-c.pid, "SIGKILL");
  } catch {
    // gone
  }
}

/** A minimal SFTP server over the real file system: what uploads need. */
function serveSftp(sftp: SFTPWrapper): void {
  const handles = new Map<number, { fd: number; path: string }>();
  let next = 1;
  const handleOf = (buf: Buffer) => handles.get(buf.readUInt32BE(0));
  const fail = (id: number, e: unknown) => {
    const code = (e as NodeJS.ErrnoException).code;
    sftp.status(
      id,
      code === "ENOENT"
        ? STATUS_CODE.NO_SUCH_FILE
        : code === "EACCES"
          ? STATUS_CODE.PERMISSION_DENIED
          : STATUS_CODE.FAILURE,
      String((e as Error).message),
    );
  };
  sftp.on("OPEN", (id, filename, flags, attrs) => {
    try {
      let f = "r";
      if (flags & OPEN_MODE.WRITE) f = flags & OPEN_MODE.TRUNC ? "w" : "r+";
      if (flags & OPEN_MODE.EXCL) f = "wx";
      const fd = openSync(filename, f, attrs.mode ?? 0o644);
      const h = next++;
      handles.set(h, { fd, path: filename });
      const buf = Buffer.alloc(4);
      buf.writeUInt32BE(h, 0);
      sftp.handle(id, buf);
    } catch (e) {
      fail(id, e);
    }
  });
  sftp.on("WRITE", (id, handle, offset, data) => {
    const h = handleOf(handle);
    if (!h) return sftp.status(id, STATUS_CODE.FAILURE);
    try {
      writeSync(h.fd, data, 0, data.length, offset);
      sftp.status(id, STATUS_CODE.OK);
    } catch (e) {
      fail(id, e);
    }
  });
  sftp.on("FSETSTAT", (id, handle, attrs) => {
    const h = handleOf(handle);
    if (!h) return sftp.status(id, STATUS_CODE.FAILURE);
    try {
      if (attrs.mode !== undefined) chmodSync(h.path, attrs.mode & 0o7777);
      sftp.status(id, STATUS_CODE.OK);
    } catch (e) {
      fail(id, e);
    }
  });
  sftp.on("SETSTAT", (id, path, attrs) => {
    try {
      if (attrs.mode !== undefined) chmodSync(path, attrs.mode & 0o7777);
      sftp.status(id, STATUS_CODE.OK);
    } catch (e) {
      fail(id, e);
    }
  });
  sftp.on("FSTAT", (id, handle) => {
    const h = handleOf(handle);
    if (!h) return sftp.status(id, STATUS_CODE.FAILURE);
    const st = fstatSync(h.fd);
    sftp.attrs(id, { mode: st.mode, uid: st.uid, gid: st.gid, size: st.size, atime: 0, mtime: 0 });
  });
  sftp.on("STAT", (id, path) => {
    try {
      const st = statSync(path);
      sftp.attrs(id, { mode: st.mode, uid: st.uid, gid: st.gid, size: st.size, atime: 0, mtime: 0 });
    } catch (e) {
      fail(id, e);
    }
  });
  sftp.on("CLOSE", (id, handle) => {
    const h = handleOf(handle);
    if (!h) return sftp.status(id, STATUS_CODE.FAILURE);
    fsyncSync(h.fd);
    closeSync(h.fd);
    handles.delete(handle.readUInt32BE(0));
    sftp.status(id, STATUS_CODE.OK);
  });
  sftp.on("REMOVE", (id, path) => {
    try {
      unlinkSync(path);
      sftp.status(id, STATUS_CODE.OK);
    } catch (e) {
      fail(id, e);
    }
  });
  sftp.on("RENAME", (id, from, to) => {
    try {
      statSync(to);
      sftp.status(id, STATUS_CODE.FAILURE, "target exists");
    } catch {
      try {
        renameSync(from, to);
        sftp.status(id, STATUS_CODE.OK);
      } catch (e) {
        fail(id, e);
      }
    }
  });
}
