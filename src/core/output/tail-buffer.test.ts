import { describe, expect, it } from "vitest";
import { TailBuffer } from "./tail-buffer.js";

const bytes = (s: string) => new TextEncoder().encode(s);

describe("TailBuffer", () => {
  it("keeps everything under the limit, and says nothing was cut", () => {
    const b = new TailBuffer(10);
    b.push(bytes("abc"));
    b.push(bytes("def"));
    expect(b.text()).toBe("abcdef");
    expect(b.truncated).toBe(false);
  });

  it("keeps the last `limit` bytes across chunks and says it cut", () => {
    const b = new TailBuffer(5);
    for (const s of ["first ", "second ", "third"]) b.push(bytes(s));
    expect(b.text()).toBe("third");
    expect(b.truncated).toBe(true);
  });

  it("never starts inside a UTF-8 character", () => {
    const b = new TailBuffer(4);
    b.push(bytes("xé€")); // é = 2 bytes, € = 3 bytes: the last 4 bytes cut é in half
    expect(b.text()).toBe("€");
  });

  it("with limit 0 keeps nothing but counts", () => {
    const b = new TailBuffer(0);
    b.push(bytes("abc"));
    expect(b.text()).toBe("");
    expect(b.truncated).toBe(true);
  });
});
