/**
 * Inventory variables to fleet `Host`: every documented mapping, default and refusal (docs/inventory.md).
 */
import { describe, expect, it } from "vitest";
import { InputError } from "../errors.js";
import { toFleetHosts } from "./fleet-hosts.js";
import { parseIniInventory } from "./ini.js";
import { resolveInventory } from "./resolve.js";
import { parseYamlInventory } from "./yaml-inventory.js";

const hostsOf = (text: string) => toFleetHosts(resolveInventory(parseIniInventory(text, "hosts.ini")));

describe("toFleetHosts", () => {
  it("applies the defaults", () => {
    expect(hostsOf("h1\n")).toEqual([
      {
        name: "h1",
        address: "h1",
        connection: "ssh",
        region: "default",
        failureDomains: {},
        role: "worker",
        groups: ["ungrouped"],
        vars: {},
      },
    ]);
  });

  it.each([
    ["ansible_host=10.0.0.1", { address: "10.0.0.1" }],
    ["ansible_port=2222", { port: 2222 }],
    ["ansible_port=\"'2222'\"", { port: 2222 }],
    ["ansible_user=ops", { user: "ops" }],
    // Ansible's ssh plugin also reads the old names and, when both are set, uses them
    // (checked with ansible 2.14 -vvv and ansible_ssh_executable=/bin/echo).
    [
      "ansible_ssh_host=192.0.2.10 ansible_ssh_port=2222 ansible_ssh_user=deploy",
      { address: "192.0.2.10", port: 2222, user: "deploy" },
    ],
    ["ansible_host=10.0.0.1 ansible_ssh_host=10.0.0.2", { address: "10.0.0.2" }],
    ["ansible_ssh_host=10.0.0.2 ansible_host=10.0.0.1", { address: "10.0.0.2" }],
    [
      "ansible_port=1001 ansible_ssh_port=1002 ansible_user=u1 ansible_ssh_user=u2",
      { port: 1002, user: "u2" },
    ],
    ["ansible_connection=local", { connection: "local" }],
    ["ansible_connection=ssh", { connection: "ssh" }],
    ["region=eu", { region: "eu" }],
    ["region=eu overhaul_region=eu-west", { region: "eu-west" }],
    ["rack=r1 power_circuit=p2 switch=s3", { failureDomains: { rack: "r1", power: "p2", switch: "s3" } }],
    [
      "rack=r1 overhaul_rack=r9 overhaul_power=pdu overhaul_switch=tor",
      { failureDomains: { rack: "r9", power: "pdu", switch: "tor" } },
    ],
    ["rack=12", { failureDomains: { rack: "12" } }],
    ["overhaul_role=holdover", { role: "holdover" }],
    ["overhaul_role=control", { role: "control" }],
    [
      "overhaul_cpu=8 overhaul_memory_mb=16384 overhaul_disk_gb=0",
      { capacity: { cpu: 8, memoryMb: 16384, diskGb: 0 } },
    ],
  ])("%s", (vars, expected) => {
    expect(hostsOf(`[g]\nh ${vars}\n`)[0]).toMatchObject(expected);
  });

  it("reads values after precedence, and lists groups without all", () => {
    const [h] = hostsOf("[p:children]\nc\n[c]\nh\n[p:vars]\nregion=p\n[c:vars]\nregion=c\n");
    expect(h?.region).toBe("c");
    expect(h?.groups).toEqual(["c", "p"]);
  });

  it("takes ansible_ssh_host/port/user over ansible_host/port/user wherever each is set, as Ansible does", () => {
    const [h] = hostsOf(
      "[g]\nh ansible_host=10.0.0.1 ansible_port=1001 ansible_user=u1\n[g:vars]\nansible_ssh_host=10.9.9.9\nansible_ssh_port=2000\nansible_ssh_user=grp\n",
    );
    expect(h).toMatchObject({ address: "10.9.9.9", port: 2000, user: "grp" });
    const yaml = (vars: string) =>
      toFleetHosts(resolveInventory(parseYamlInventory(`all:\n  hosts:\n    h:\n${vars}`, "i.yml")))[0];
    // A null old name is unset (Ansible falls back to the new one).
    expect(
      yaml(
        "      ansible_host: 10.0.0.1\n      ansible_ssh_host: null\n      ansible_ssh_port: ~\n      ansible_port: 1001\n",
      ),
    ).toMatchObject({ address: "10.0.0.1", port: 1001 });
  });

  it("unwraps !unsafe text", () => {
    const inv = resolveInventory(
      parseYamlInventory("all:\n  hosts:\n    h:\n      region: !unsafe eu\n", "i.yml"),
    );
    expect(toFleetHosts(inv)[0]?.region).toBe("eu");
  });

  it.each([
    ["overhaul_role=leader", 2, 3, /overhaul_role "leader" is not a role/],
    ["ansible_port=70000", 2, 3, /ansible_port must be an integer from 1 to 65535/],
    ["ansible_port=abc", 2, 3, /ansible_port must be an integer/],
    ["ansible_ssh_port=0", 2, 3, /ansible_ssh_port must be an integer from 1 to 65535/],
    ["ansible_port=22 ansible_ssh_port=abc", 2, 19, /ansible_ssh_port must be an integer/],
    ["ansible_ssh_host=[1]", 2, 3, /ansible_ssh_host must be a non-empty name/],
    ["ansible_ssh_user=\"''\"", 2, 3, /ansible_ssh_user must be a non-empty name/],
    ["ansible_connection=winrm", 2, 3, /not a connection Overhaul can use/],
    ["region=[1,2]", 2, 3, /region must be a non-empty name/],
    ["overhaul_cpu=4", 2, 3, /overhaul_memory_mb and overhaul_disk_gb are not/],
    [
      "overhaul_cpu=0 overhaul_memory_mb=1 overhaul_disk_gb=1",
      2,
      3,
      /overhaul_cpu must be an integer from 1/,
    ],
  ])("%s is an InputError naming the host, variable, file and line", (vars, line, column, message) => {
    let err: unknown;
    try {
      hostsOf(`[g]\nh ${vars}\n`);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InputError);
    const p = (err as InputError).problems[0];
    expect(p).toMatchObject({ file: "hosts.ini", line, column });
    expect(p?.path).toMatch(/^h\./);
    expect(p?.message).toMatch(message);
  });

  it("reports every bad host at once", () => {
    let err: unknown;
    try {
      hostsOf("[g]\na overhaul_role=x\nb overhaul_role=y\n");
    } catch (e) {
      err = e;
    }
    expect((err as InputError).problems.map((p) => p.line)).toEqual([2, 3]);
  });
});
