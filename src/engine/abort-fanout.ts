/**
 * Abort many controllers with one parent signal through a single listener on it.
 *
 * Why: the coordinator's stop signal is watched by every effect in flight and by every idle wait;
 * adding and removing a listener on it for each (tens of thousands in a large run) cost more than
 * the work they guarded.
 *
 * Invariants:
 * - When the parent aborts, every child still registered is aborted, in registration order (the
 *   order separate listeners would have fired in), with its own reason or else the parent's.
 * - A child added while the parent is already aborted is never aborted by it (as a listener added
 *   to an aborted signal never fires): callers check `aborted` first where that matters.
 * - `delete` forgets a child; deleting one that is not registered is a no-op.
 */

/** The parent's reason is passed on (the default). */
const PARENT_REASON = Symbol("parent reason");

export class AbortFanout {
  private readonly children = new Map<AbortController, unknown>();

  constructor(private readonly parent: AbortSignal) {
    parent.addEventListener(
      "abort",
      () => {
        const all = [...this.children];
        this.children.clear();
        for (const [child, reason] of all) child.abort(reason === PARENT_REASON ? parent.reason : reason);
      },
      { once: true },
    );
  }

  /** Abort `child` (with `reason`, else the parent's) when the parent aborts. */
  add(child: AbortController, reason: unknown = PARENT_REASON): void {
    if (!this.parent.aborted) this.children.set(child, reason);
  }

  delete(child: AbortController): void {
    this.children.delete(child);
  }

  /** Children registered (for tests). */
  get size(): number {
    return this.children.size;
  }
}
