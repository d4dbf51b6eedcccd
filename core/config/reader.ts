/**
 * Typed reads from parsed YAML that fail with the file, the path inside it and what was expected:
 * `conf/gateway.yaml: routes[1].policy.type: expected one of round-robin, least-load, got "lru"`.
 */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export type Obj = Record<string, unknown>;

export class ConfigReader {
  constructor(readonly file: string) {}

  fail(at: string, expected: string, got?: unknown): never {
    const shown = got === undefined ? 'nothing' : JSON.stringify(got);
    throw new ConfigError(`${this.file}: ${at}: expected ${expected}, got ${shown}`);
  }

  obj(v: unknown, at: string): Obj {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(at, 'a mapping', v);
    return v as Obj;
  }

  optObj(o: Obj, key: string, at: string): Obj {
    return o[key] === undefined ? {} : this.obj(o[key], `${at}.${key}`);
  }

  list(v: unknown, at: string): unknown[] {
    if (!Array.isArray(v)) this.fail(at, 'a list', v);
    return v;
  }

  str(o: Obj, key: string, at: string, fallback?: string): string {
    const v = o[key] ?? fallback;
    if (typeof v !== 'string' || v === '') this.fail(`${at}.${key}`, 'a non-empty string', v);
    return v;
  }

  int(o: Obj, key: string, at: string, fallback: number | undefined, min = 0, max = Number.MAX_SAFE_INTEGER): number {
    const v = o[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      this.fail(`${at}.${key}`, `an integer from ${min} to ${max}`, v);
    }
    return v;
  }

  num(o: Obj, key: string, at: string, fallback: number | undefined, min = 0): number {
    const v = o[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min) this.fail(`${at}.${key}`, `a number ≥ ${min}`, v);
    return v;
  }

  bool(o: Obj, key: string, at: string, fallback?: boolean): boolean {
    const v = o[key] ?? fallback;
    if (typeof v !== 'boolean') this.fail(`${at}.${key}`, 'true or false', v);
    return v;
  }

  strings(o: Obj, key: string, at: string): string[] | undefined {
    if (o[key] === undefined) return undefined;
    return this.list(o[key], `${at}.${key}`).map((v, i) => {
      if (typeof v !== 'string' || v === '') this.fail(`${at}.${key}[${i}]`, 'a non-empty string', v);
      return v;
    });
  }

  stringMap(o: Obj, key: string, at: string): Record<string, string> {
    const m = this.optObj(o, key, at);
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(m)) {
      if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') this.fail(`${at}.${key}.${k}`, 'a scalar', v);
      out[k] = String(v);
    }
    return out;
  }

  oneOf<T extends string>(o: Obj, key: string, at: string, allowed: readonly T[], fallback?: T): T {
    const v = o[key] ?? fallback;
    if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
      this.fail(`${at}.${key}`, `one of ${allowed.join(', ')}`, v);
    }
    return v as T;
  }

  /** Keys outside `known` are errors: a typo must not silently become a default. */
  known(o: Obj, at: string, known: readonly string[]): void {
    for (const k of Object.keys(o)) {
      if (!known.includes(k)) this.fail(`${at}.${k}`, `one of the keys ${known.join(', ')}`, k);
    }
  }
}

/** Replaces `${NAME}` and `${NAME:-default}` in every string of a parsed document. */
export function substituteEnv(value: unknown, reader: ConfigReader, at: string, env: NodeJS.ProcessEnv): unknown {
  if (typeof value === 'string') {
    // `port: ${PORT:-8080}` should stay a number: a scalar that is exactly one reference takes
    // the type YAML would have given the substituted text.
    const whole = /^\$\{[^}]+\}$/.test(value);
    const text = value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (_, name: string, fallback: string | undefined) => {
      const v = env[name];
      if (v !== undefined && v !== '') return v;
      if (fallback !== undefined) return fallback;
      return reader.fail(at, `environment variable ${name} to be set (or a default: \${${name}:-value})`);
    });
    if (whole && /^-?\d+(\.\d+)?$/.test(text)) return Number(text);
    if (whole && (text === 'true' || text === 'false')) return text === 'true';
    return text;
  }
  if (Array.isArray(value)) return value.map((v, i) => substituteEnv(v, reader, `${at}[${i}]`, env));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substituteEnv(v, reader, at ? `${at}.${k}` : k, env)]));
  }
  return value;
}
