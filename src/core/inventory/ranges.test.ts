/**
 * Host ranges and `host:port` entries, checked against Ansible's `_expand_hostpattern` (including its error cases).
 */
import { describe, expect, it } from "vitest";
import { parseAddress } from "./address.js";
import { expandHostPattern, RangeSyntaxError } from "./ranges.js";

const CASES: [string, string[], number?][] = [
  ["web1", ["web1"]],
  ["web[1:3]", ["web1", "web2", "web3"]],
  ["web[01:03].example.com", ["web01.example.com", "web02.example.com", "web03.example.com"]],
  ["web[08:10]", ["web08", "web09", "web10"]],
  ["db-[a:c]", ["db-a", "db-b", "db-c"]],
  ["x[y:B]", ["xy", "xz", "xA", "xB"]],
  ["n[1:10:3]", ["n1", "n4", "n7", "n10"]],
  ["n[00:20:10]", ["n00", "n10", "n20"]],
  ["l[a:g:3]", ["la", "ld", "lg"]],
  ["n[:2]", ["n0", "n1", "n2"]],
  ["n[5:3]", []],
  ["r[1:2]-s[a:b]", ["r1-sa", "r1-sb", "r2-sa", "r2-sb"]],
  ["web[1:2]:2222", ["web1", "web2"], 2222],
  ["host:22", ["host"], 22],
  ["10.0.[1:2].5", ["10.0.1.5", "10.0.2.5"]],
  ["[2001:db8::1]:2222", ["2001:db8::1"], 2222],
  ["fe80::1", ["fe80::1"]],
  ["not valid!:22", ["not valid!:22"]],
];

describe("expandHostPattern", () => {
  it.each(CASES)("%s", (entry, hostnames, port) => {
    const r = expandHostPattern(entry);
    expect(r.hostnames).toEqual(hostnames);
    expect(r.port).toBe(port);
  });
  it.each([
    ["web[01:5]", /equal-length/],
    ["web[1:]", /end value/],
    ["web[1]", /begin:end/],
    ["web[1:2:3:4]", /begin:end/],
    ["web[c:a]", /begin <= end/],
    ["web[a:3]", /not a number/],
    ["web[1:5:0]", /must not be zero/],
    ["web[1:9999999]", /more than/],
  ])("%s is an error", (entry, message) => {
    expect(() => expandHostPattern(entry)).toThrow(RangeSyntaxError);
    expect(() => expandHostPattern(entry)).toThrow(message);
  });
});

describe("parseAddress", () => {
  it.each([
    ["web1", { host: "web1" }],
    ["web1:22", { host: "web1", port: 22 }],
    ["192.168.0.1:2222", { host: "192.168.0.1", port: 2222 }],
    ["web:db", undefined],
    ["-bad", undefined],
    ["bad_", undefined],
    ["dead::beef", { host: "dead::beef" }],
  ])("%s", (text, expected) => {
    expect(parseAddress(text)).toEqual(expected);
  });
});
