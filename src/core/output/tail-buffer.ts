/**
 * Keeps the last `limit` bytes written to it: command output is captured per stream, and when
 * it is too long the END is what matters (the error is usually on the last lines). Shared by the
 * local and SSH transports (adapters do not import each other); plain bytes, no Node API.
 *
 * Invariants:
 * - Memory stays within `limit` plus one chunk, however much is written.
 * - `text()` never starts in the middle of a UTF-8 character: a cut code point is dropped.
 * - `truncated` is true exactly when more than `limit` bytes were written.
 */
export class TailBuffer {
  private chunks: Uint8Array[] = [];
  private size = 0;
  private total = 0;

  constructor(private readonly limit: number) {}

  push(chunk: Uint8Array): void {
    if (this.limit <= 0) {
      this.total += chunk.length;
      return;
    }
    this.chunks.push(chunk);
    this.size += chunk.length;
    this.total += chunk.length;
    while (this.chunks.length > 1 && this.size - (this.chunks[0] as Uint8Array).length >= this.limit) {
      this.size -= (this.chunks.shift() as Uint8Array).length;
    }
  }

  get truncated(): boolean {
    return this.total > this.limit;
  }

  text(): string {
    const all = new Uint8Array(this.size);
    let at = 0;
    for (const c of this.chunks) {
      all.set(c, at);
      at += c.length;
    }
    let start = Math.max(0, all.length - this.limit);
    if (start > 0) {
      // Skip UTF-8 continuation bytes (10xxxxxx) so the text starts on a whole character.
      for (let i = 0; i < 3 && start < all.length && ((all[start] as number) & 0xc0) === 0x80; i++) start++;
    }
    return new TextDecoder().decode(all.subarray(start));
  }
}
