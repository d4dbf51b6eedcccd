/**
 * Typed reads from parsed YAML that fail with the file, the path inside it and what was expected:
 * `conf/gateway.yaml: routes[1].policy.type: expected one of round-robin, least-load, got "lru"`.
 *
 * A read that fails throws a ConfigError; `attempt` and `fields` catch it, keep its issues and go
 * on, so one pass over a config reports every mistake in it, not only the first.
 */
import type { Schema, Values } from './fields.js';

/** One mistake in a config: where it is and what was expected there. */
export interface ConfigIssue {
  file: string;
  /** The path inside the file: `routes[2].policy.load_bound`, `(top level).wokers`. */
  path: string;
  /** What belongs there: `an integer from 1 to 256`. */
  expected: string;
  /** What was there, as JSON (`"fast"`, `nothing`); absent when the expectation says it all. */
  got?: string;
  /** `file: path: expected X, got Y`, one line. */
  message: string;
}

export class ConfigError extends Error {
  readonly errors: readonly ConfigIssue[];

  /** A message alone is an issue without a path (profiles, files that are not configs). */
  constructor(errors: readonly ConfigIssue[] | string) {
    const list = typeof errors === 'string' ? [{ file: '', path: '', expected: '', message: errors }] : errors;
    super(list.map((e) => e.message).join('\n'));
    this.name = 'ConfigError';
    this.errors = list;
  }
}

export type Obj = Record<string, unknown>;

export class ConfigReader {
  /** Every issue found so far (by `attempt`, `fields` and `report`). */
  readonly issues: ConfigIssue[] = [];

  constructor(readonly file: string) {}

  issue(at: string, expected: string, got?: unknown): ConfigIssue {
    const shown = got === undefined ? 'nothing' : JSON.stringify(got);
    return { file: this.file, path: at, expected, got: shown, message: `${this.file}: ${at}: expected ${expected}, got ${shown}` };
  }

  /** An issue whose text is not "expected X, got Y" (a plugin's own words, a file that will not parse). */
  problem(at: string, text: string): ConfigIssue {
    return { file: this.file, path: at, expected: text, message: `${this.file}: ${at}: ${text}` };
  }

  /** A plugin's or a policy's own words about its options, each an issue at the key it names (`key: expected …`). */
  problems(at: string, texts: readonly string[]): ConfigError {
    return new ConfigError(texts.map((t) => {
      const key = /^([A-Za-z0-9_.[\]-]+): /.exec(t)?.[1];
      return { ...this.problem(at, t), path: key ? `${at}.${key}` : at };
    }));
  }

  fail(at: string, expected: string, got?: unknown): never {
    throw new ConfigError([this.issue(at, expected, got)]);
  }

  /** Records an issue and carries on (the caller has a harmless value to go on with). */
  report(issue: ConfigIssue): void {
    // One issue per path: the first says what is wrong there (an unset ${VAR} leaves an empty
    // value that would fail its key's check as well).
    if (!this.issues.some((i) => i === issue || i.path === issue.path)) this.issues.push(issue);
  }

  /** Runs one independent part of the config; its errors are kept, and the caller gets undefined. */
  attempt<T>(read: () => T): T | undefined {
    try {
      return read();
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      for (const e of err.errors) this.report(e);
      return undefined;
    }
  }

  async attemptAsync<T>(read: () => Promise<T>): Promise<T | undefined> {
    try {
      return await read();
    } catch (err) {
      return this.attempt(() => { throw err; });
    }
  }

  /** Gives up on the part being read, whose issues are already kept. */
  abort(): never {
    throw new ConfigError(this.issues.slice());
  }

  /** Throws every issue found, if any: the config as a whole is refused. */
  throwIfIssues(): void {
    if (this.issues.length > 0) throw new ConfigError(this.issues);
  }

  /**
   * Reads the keys of one section by its schema: unknown keys (unless `open`, for sections whose
   * other keys belong to a plugin) and every key's value checked, each mistake kept. A section with
   * a bad value throws after all its keys are checked: what follows would build on that value.
   */
  fields<S extends Schema>(o: Obj, at: string, schema: S, open = false): Values<S> {
    if (!open) this.attempt(() => this.known(o, at, Object.keys(schema)));
    const out: Record<string, unknown> = {};
    let failed = false;
    for (const [key, field] of Object.entries(schema)) {
      try {
        out[key] = field.read(this, o, key, at);
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        err.errors.forEach((e) => this.report(e));
        failed = true;
      }
    }
    if (failed) this.abort();
    return out as Values<S>;
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

  /** Keys outside `known` are errors, all of them at once: a typo must not silently become a default. */
  known(o: Obj, at: string, known: readonly string[]): void {
    const unknown = Object.keys(o).filter((k) => !known.includes(k));
    if (unknown.length > 0) throw new ConfigError(unknown.map((k) => this.issue(`${at}.${k}`, `one of the keys ${known.join(', ')}`, k)));
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
      // Every unset variable is reported; the text stands in meanwhile (the config is refused anyway).
      reader.report(reader.issue(at, `environment variable ${name} to be set (or a default: \${${name}:-value})`));
      return '';
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
