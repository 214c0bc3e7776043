/** Building DOM nodes from data with textContent only (never innerHTML): no markup injection. */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: (Node | string | null | undefined)[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

export function replace(parent: Element, ...children: (Node | string)[]): void {
  parent.replaceChildren(...children);
}

/** A stable colour per stage name (pending grey, succeeded green, failures red). */
export function stageColor(stage: string): string {
  const fixed: Record<string, string> = {
    pending: "#d0d4da",
    succeeded: "#3fa36b",
    failed: "#d64545",
    in_doubt: "#e08a1e",
    skipped: "#8c96a3",
    aborted: "#6b4f9e",
  };
  if (fixed[stage]) return fixed[stage];
  if (stage.startsWith("revert:")) return "#f0a3a3";
  let h = 0;
  for (const ch of stage) h = (h * 31 + ch.charCodeAt(0)) % 360;
  return `hsl(${h} 60% 62%)`;
}
