/**
 * A request body as plugins get it (DispatchCall.body). Usually a plain parsed object; a large
 * body (over `limits.inline_body_bytes`) is parsed in a worker thread instead of on the event
 * loop, and its bulky top-level fields (messages, prompt, input, tools…) stay there: in the body
 * they are HeldField placeholders. A plugin that forwards the body as JSON sends `encodeBody`'s
 * result (the worker serialises it, with the gateway's rewrites of the small fields); a plugin
 * that must read the prompt itself calls `materializeBody` (which copies the whole body to the
 * event loop, so it costs what the worker saved).
 */

/** A field of the body as the gateway sends it: its own value, or one held in the worker. */
export type FieldSpec = { key: string; value: unknown } | { key: string; held: string };

/** Where held fields live (core/server/large-body.ts). */
export interface BodyHolder {
  encode(fields: FieldSpec[]): Promise<Uint8Array>;
  materialize(): Promise<Record<string, unknown>>;
}

export class HeldField {
  // Private: code that walks a body (depth checks, size estimates) sees only the key and size.
  readonly #holder: BodyHolder;

  constructor(holder: BodyHolder, readonly key: string, readonly bytes: number) {
    this.#holder = holder;
  }

  get holder(): BodyHolder {
    return this.#holder;
  }

  /** Never the field itself: JSON.stringify of a body with held fields must go through encodeBody. */
  toJSON(): string {
    return `[${this.key}: ~${this.bytes} bytes held off the event loop]`;
  }
}

/** Where the body's held fields live; undefined for an ordinary body. */
export function holderOf(body: Readonly<Record<string, unknown>>): BodyHolder | undefined {
  for (const key in body) {
    const v = body[key];
    if (v instanceof HeldField) return v.holder;
  }
  return undefined;
}

/** Whether some top-level field of the body is held off the event loop. */
export function hasHeldFields(body: Readonly<Record<string, unknown>>): boolean {
  return holderOf(body) !== undefined;
}

function specsOf(body: Readonly<Record<string, unknown>>): FieldSpec[] {
  return Object.keys(body).map((key) => {
    const v = body[key];
    return v instanceof HeldField ? { key, held: v.key } : { key, value: v };
  });
}

/** The body as JSON for the upstream request: a string, or (a large body) the bytes the worker serialised. */
export function encodeBody(body: Readonly<Record<string, unknown>>): string | Promise<Uint8Array> {
  const holder = holderOf(body);
  return holder ? holder.encode(specsOf(body)) : JSON.stringify(body);
}

/** The whole body as a plain object (a large body's held fields copied to the event loop). */
export async function materializeBody(body: Readonly<Record<string, unknown>>): Promise<Record<string, unknown>> {
  const holder = holderOf(body);
  if (!holder) return { ...body };
  const whole = await holder.materialize();
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(body)) {
    const v = body[key];
    out[key] = v instanceof HeldField ? whole[v.key] : v;
  }
  return out;
}
