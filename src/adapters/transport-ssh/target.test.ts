/**
 * From a host's variables and the ssh config to an endpoint: precedence (inventory wins), the
 * OpenSSH options Ansible users write in ansible_ssh_common_args, ProxyJump chains, and the
 * command line built for exec (quoting, env, become).
 */
import { describe, expect, it } from "vitest";
import { sshHost } from "../../../test/support/records.js";
import { becomeSettings, buildCommand, remoteEnvironment, shellQuote } from "./command.js";
import { resolveOptions } from "./options.js";
import { BOOTSTRAP, SCRIPT_END, SUDO_PROMPT } from "./session-start.js";
import { parseSshArgs } from "./ssh-args.js";
import { EMPTY_SSH_CONFIG, parseSshConfig } from "./ssh-config.js";
import { parseJump, resolveTarget } from "./target.js";

const options = resolveOptions({
  homeDir: "/home/me",
  defaultUser: "me",
  identityFiles: ["/home/me/.ssh/id_ed25519"],
  agent: null,
  sshConfigFile: null,
});

const host = sshHost;

const config = parseSshConfig(
  [
    "Host web01.example.com",
    "  HostName 10.0.0.1",
    "  Port 2200",
    "  User cfguser",
    "  IdentityFile ~/.ssh/web_%r",
    "  ProxyJump bastion",
    "Host bastion",
    "  HostName bastion.example.com",
    "  User jumper",
    "  ProxyJump outer:2022",
    "Host loop1",
    "  ProxyJump loop2",
    "Host loop2",
    "  ProxyJump loop1",
    "Host *",
    "  ConnectTimeout 7",
  ].join("\n"),
  "cfg",
  { homeDir: "/home/me", localUser: "me" },
);

describe("parseSshArgs", () => {
  it.each([
    ["-o ProxyJump=ops@jump:2222", { proxyJump: "ops@jump:2222" }],
    ["-o 'ProxyJump ops@jump'", { proxyJump: "ops@jump" }],
    ["-o ProxyJump ops@jump", { proxyJump: "ops@jump" }],
    ["-oProxyJump=jump", { proxyJump: "jump" }],
    ["-J jump1,jump2", { proxyJump: "jump1,jump2" }],
    ['-o ProxyJump="a" -o ProxyJump=b', { proxyJump: "a" }],
    ["-p 2200 -l ops -i ~/k", { port: 2200, user: "ops", identityFiles: ["~/k"] }],
    ["-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -C -q", {}],
    ["-o ControlMaster=auto -o ControlPersist=60s", {}],
    ["-o ConnectTimeout=5", { connectTimeoutMs: 5000 }],
  ])("%s", (text, want) => {
    expect(parseSshArgs([text])).toEqual({ identityFiles: [], ...want });
  });

  it.each([
    ["-o ProxyCommand='ssh -W %h:%p jump'", /ProxyCommand is not supported/],
    ["-o Frobnicate=yes", /Frobnicate is not supported/],
    ["-D 1080", /"-D" is not supported/],
    ["-o Port=99999", /not a port/],
    ["-J", /needs a value/],
    ["-o 'unterminated", /cannot split/],
  ])("refuses %s", (text, re) => {
    expect(() => parseSshArgs([text])).toThrow(re);
  });
});

describe("parseJump", () => {
  it.each([
    ["jump", { host: "jump" }],
    ["ops@jump:2222", { user: "ops", host: "jump", port: 2222 }],
    ["ssh://ops@jump:2222", { user: "ops", host: "jump", port: 2222 }],
    ["[::1]:2222", { host: "::1", port: 2222 }],
  ])("%s", (spec, want) => expect(parseJump(spec)).toEqual(want));
  it("refuses nonsense", () => expect(() => parseJump("a b")).toThrow(/not \[user@\]host/));
});

describe("resolveTarget", () => {
  it("uses OpenSSH defaults when nothing is set", () => {
    const t = resolveTarget(host(), options, EMPTY_SSH_CONFIG);
    expect(t).toMatchObject({
      address: "web01.example.com",
      port: 22,
      user: "me",
      identityFiles: [],
      jumps: [],
      connectTimeoutMs: 10_000,
      key: "me@web01.example.com:22",
    });
  });

  it("applies the ssh config: HostName, Port, User, IdentityFile (tokens), ProxyJump chains, ConnectTimeout", () => {
    const t = resolveTarget(host(), options, config);
    expect(t).toMatchObject({
      address: "10.0.0.1",
      port: 2200,
      user: "cfguser",
      identityFiles: ["/home/me/.ssh/web_cfguser"],
      connectTimeoutMs: 7000,
    });
    expect(t.jumps.map((j) => [j.label, j.user, j.address, j.port])).toEqual([
      ["outer:2022", "me", "outer", 2022],
      ["bastion", "jumper", "bastion.example.com", 22],
    ]);
    expect(t.key).toBe("cfguser@10.0.0.1:2200 via me@outer:2022,jumper@bastion.example.com:22");
  });

  it("lets inventory variables win over the ssh config, as Ansible does", () => {
    const t = resolveTarget(
      host(
        {
          ansible_ssh_private_key_file: "~/.ssh/inv",
          ansible_ssh_common_args: "-o ProxyJump=none",
          overhaul_ssh_connect_timeout: 3,
        },
        { port: 22, user: "invuser" },
      ),
      options,
      config,
    );
    expect(t).toMatchObject({
      address: "10.0.0.1",
      port: 22,
      user: "invuser",
      identityFiles: ["/home/me/.ssh/inv", "/home/me/.ssh/web_%r".replace("%r", "cfguser")],
      jumps: [],
      connectTimeoutMs: 3000,
    });
  });

  it("reads ProxyCommand none as no proxy, and lets the first of ProxyCommand and ProxyJump win (OpenSSH)", () => {
    const cfg = parseSshConfig(
      [
        "Host bastion direct",
        "  ProxyCommand none",
        "Host jumped",
        "  ProxyJump bastion",
        "Host piped",
        "  ProxyCommand nc %h %p",
        "Host *",
        "  ProxyJump bastion",
        "  ProxyCommand ssh -W %h:%p other",
      ].join("\n"),
      "cfg",
      { homeDir: "/home/me", localUser: "me" },
    );
    const at = (address: string, vars = {}) => resolveTarget(host(vars, { address }), options, cfg);
    expect(at("direct").jumps).toEqual([]);
    expect(at("jumped").jumps.map((j) => j.label)).toEqual(["bastion"]);
    expect(at("elsewhere").jumps.map((j) => j.label)).toEqual(["bastion"]);
    expect(() => at("piped")).toThrow(/piped uses ProxyCommand/);
    // On the command line too: none beats the config's ProxyJump, as any command-line option does.
    expect(at("jumped", { ansible_ssh_common_args: "-o ProxyCommand=none" }).jumps).toEqual([]);
    expect(parseSshArgs(["-o 'ProxyCommand none' -J b"]).proxyJump).toBe("none");
  });

  it("refuses bad values by name", () => {
    expect(() => resolveTarget(host({ overhaul_ssh_connect_timeout: "soon" }), options, config)).toThrow(
      /overhaul_ssh_connect_timeout/,
    );
    expect(() =>
      resolveTarget(host({ ansible_ssh_common_args: "-o ProxyCommand=x" }), options, config),
    ).toThrow(/ProxyCommand/);
    expect(() => resolveTarget(host({}, { address: "loop1" }), options, config)).toThrow(/hops/);
  });
});

describe("the exec command line", () => {
  it("quotes anything", () => {
    expect(shellQuote("it's")).toBe("'it'\\''s'");
  });

  it("exports the environment inside the /bin/sh script sent on stdin, with the workdir, and no secret", () => {
    const h = host({ overhaul_workdir: "/srv/app dir", ansible_become_password: "pw", x: "a'b" });
    const c = buildCommand(h, "make install", remoteEnvironment(h, { K: "v" }), undefined);
    // The exec line is the fixed bootstrap: nothing of the request is in it.
    expect(c.line).toBe(`/bin/sh -c ${shellQuote(BOOTSTRAP)}`);
    const script = [
      "export K='v' OVERHAUL_HOST='web01' OVERHAUL_VAR_overhaul_workdir='/srv/app dir' OVERHAUL_VAR_x='a'\\''b'",
      "cd -- '/srv/app dir' || { printf '\\n%s\\n' 'overhaul: cannot enter the working directory' >&2; exit 127; }",
      "make install",
      SCRIPT_END,
    ].join("\n");
    expect(c.script.toString()).toBe(`${Buffer.byteLength(script)}\n${script}`);
    expect(c.script.toString()).not.toContain("pw'");
    expect(c.password).toBeUndefined();
  });

  it("becomes with sudo -n, or sudo -S with Overhaul's prompt and the password kept apart", () => {
    const h = host({ ansible_become_user: "pg", ansible_become_password: "s3cret" });
    const plain = buildCommand(h, "id", {}, becomeSettings(host({ ansible_become_user: "pg" })));
    expect(plain.line).toBe(`sudo -n -u 'pg' -- /bin/sh -c ${shellQuote(BOOTSTRAP)}`);
    expect(plain.password).toBeUndefined();
    const pw = buildCommand(h, "id", {}, becomeSettings(h));
    expect(pw.line).toBe(
      `sudo -S -k -p ${shellQuote(SUDO_PROMPT)} -u 'pg' -- /bin/sh -c ${shellQuote(BOOTSTRAP)}`,
    );
    expect(`${pw.line}${pw.script.toString()}`).not.toContain("s3cret");
    expect(pw.password).toBe("s3cret");
    expect(becomeSettings(h, { ansible_become_pass: "from-secrets" }).password).toBe("from-secrets");
  });

  it("refuses other become methods and vault-encrypted passwords", () => {
    expect(() => becomeSettings(host({ ansible_become_method: "su" }))).toThrow(/only sudo/);
    expect(() =>
      becomeSettings(host({ ansible_become_password: { __ansible_vault: "$ANSIBLE_VAULT" } })),
    ).toThrow(/vault-encrypted/);
  });
});
