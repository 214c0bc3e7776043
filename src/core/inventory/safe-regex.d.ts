/** Types for `safe-regex` (2.x ships none): false when the expression may take exponential time. */
declare module "safe-regex" {
  export default function safeRegex(re: string | RegExp, opts?: { limit?: number }): boolean;
}
