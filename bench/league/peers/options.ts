/** Options of the peers' factories: each a number with a default, unknown keys rejected by name. */

export type NumericOptions = Readonly<Record<string, { default: number; min: number; max?: number }>>;

export function validateNumeric(type: string, spec: NumericOptions, options: Record<string, unknown>): string[] {
  return Object.entries(options).flatMap(([k, v]) => {
    const s = spec[k];
    if (!s) return [`${k}: not an option of ${type} (known: ${Object.keys(spec).join(', ')})`];
    const ok = typeof v === 'number' && Number.isFinite(v) && v >= s.min && (s.max === undefined || v <= s.max);
    const range = s.max === undefined ? `≥ ${s.min}` : `in [${s.min}, ${s.max}]`;
    return ok ? [] : [`${k}: expected a number ${range}, got ${JSON.stringify(v)}`];
  });
}

/** The options with their defaults filled in (call after validate). */
export function numericOptions<K extends string>(spec: Readonly<Record<K, { default: number }>>, options: Record<string, unknown>): Record<K, number> {
  const out = {} as Record<K, number>;
  for (const k of Object.keys(spec) as K[]) {
    const v = options[k];
    out[k] = typeof v === 'number' ? v : spec[k].default;
  }
  return out;
}
