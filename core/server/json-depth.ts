/**
 * How deeply a parsed request body nests. Node's JSON.parse accepts bodies nested thousands of
 * levels deep, but every later step that recurses (serialising the body for the engine, the prefix
 * key's canonical prompt, a chat template) then overflows the stack: a 30 KB body nested ~4,000
 * deep once made the upstream serialisation throw, which counted as the engine's failure and
 * opened every backend's breaker. No OpenAI request needs more than a few dozen levels (a tool's
 * JSON schema is the deepest part), so anything past the limit is refused at the door with a 400.
 *
 * Iterative (an explicit stack), so measuring the depth cannot overflow either.
 */
export const MAX_JSON_DEPTH = 128;

/** True when `value` nests deeper than `limit` objects and arrays. */
export function nestsDeeperThan(value: unknown, limit: number): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const stack: unknown[] = [value];
  const depths: number[] = [1];
  while (stack.length > 0) {
    const node = stack.pop() as object;
    const depth = depths.pop() as number;
    if (depth > limit) return true;
    if (Array.isArray(node)) {
      for (const child of node) {
        if (typeof child === 'object' && child !== null) { stack.push(child); depths.push(depth + 1); }
      }
    } else {
      for (const key in node) {
        const child = (node as Record<string, unknown>)[key];
        if (typeof child === 'object' && child !== null) { stack.push(child); depths.push(depth + 1); }
      }
    }
  }
  return false;
}
