/**
 * The building blocks of the config schema (core/config/schema.ts): each key of a section says
 * what it holds, its default and what it is for, and reads itself. The reader validates with
 * them and the configuration reference in the README is printed from them, so the two cannot
 * disagree.
 */
import type { ConfigReader, Obj } from './reader.js';

/** One key of a config section. */
export interface Field<T> {
  /** As the reference shows it: `integer from 1 to 256`, `one of memory, redis`. */
  readonly type: string;
  /** The default as the reference shows it; absent: required (`required`) or optional without one. */
  readonly default?: string;
  readonly required?: boolean;
  readonly doc: string;
  /** The keys of a nested section (or of each item of a list of sections), for the reference. */
  readonly fields?: Schema;
  /** A list of sections rather than one. */
  readonly list?: boolean;
  read(r: ConfigReader, o: Obj, key: string, at: string): T;
}

export type Schema = { readonly [key: string]: Field<unknown> };

/** What `ConfigReader.fields` returns for a schema: each key's value, by its field's type. */
export type Values<S extends Schema> = { -readonly [K in keyof S]: S[K] extends Field<infer T> ? T : never };

interface Limits<T> {
  default?: T;
  min?: number;
  max?: number;
}

/** Sections at the top level are named alone (`limits.body_bytes`), as users write them. */
export const TOP_LEVEL = '(top level)';
const join = (at: string, key: string) => (at === TOP_LEVEL ? key : `${at}.${key}`);

const shown = (v: unknown): string | undefined => (v === undefined ? undefined : JSON.stringify(v));

function range(min: number, max: number | undefined, what: string): string {
  return max === undefined ? `${what} ≥ ${min}` : `${what} from ${min} to ${max}`;
}

export function int(doc: string, { default: fallback, min = 0, max }: Limits<number> = {}): Field<number> {
  return {
    type: range(min, max, 'integer'), default: shown(fallback), required: fallback === undefined, doc,
    read: (r, o, key, at) => r.int(o, key, at, fallback, min, max),
  };
}

export function num(doc: string, { default: fallback, min = 0, max }: Limits<number> = {}): Field<number> {
  return {
    type: range(min, max, 'number'), default: shown(fallback), required: fallback === undefined, doc,
    read: (r, o, key, at) => {
      const v = r.num(o, key, at, fallback, min);
      if (max !== undefined && v > max) r.fail(`${at}.${key}`, `a number from ${min} to ${max}`, v);
      return v;
    },
  };
}

export function str(doc: string, fallback?: string): Field<string> {
  return { type: 'string', default: shown(fallback), required: fallback === undefined, doc, read: (r, o, key, at) => r.str(o, key, at, fallback) };
}

export function bool(doc: string, fallback: boolean): Field<boolean> {
  return { type: 'true or false', default: shown(fallback), doc, read: (r, o, key, at) => r.bool(o, key, at, fallback) };
}

export function oneOf<T extends string>(allowed: readonly T[], doc: string, fallback?: T): Field<T> {
  return {
    type: `one of ${allowed.join(', ')}`, default: fallback, required: fallback === undefined, doc,
    read: (r, o, key, at) => r.oneOf(o, key, at, allowed, fallback),
  };
}

export function strings(doc: string): Field<string[] | undefined> {
  return { type: 'list of strings', doc, read: (r, o, key, at) => r.strings(o, key, at) };
}

export function stringMap(doc: string): Field<Record<string, string>> {
  return { type: 'mapping of strings', doc, read: (r, o, key, at) => r.stringMap(o, key, at) };
}

/** A key that may be left out, with no default: undefined then. `defaultText` says what absence means. */
export function optional<T>(field: Field<T>, defaultText?: string): Field<T | undefined> {
  return { ...field, required: false, default: defaultText, read: (r, o, key, at) => (o[key] === undefined ? undefined : field.read(r, o, key, at)) };
}

/** A nested section of its own keys; absent, every key takes its default. */
export function section<S extends Schema>(doc: string, fields: S): Field<Values<S>> {
  return { type: 'mapping', doc, fields, read: (r, o, key, at) => r.fields(o[key] === undefined ? {} : r.obj(o[key], join(at, key)), join(at, key), fields) };
}

/** A nested section that is off when absent. */
export function optionalSection<S extends Schema>(doc: string, fields: S): Field<Values<S> | undefined> {
  return {
    type: 'mapping', doc, fields,
    read: (r, o, key, at) => (o[key] === undefined ? undefined : r.fields(r.obj(o[key], join(at, key)), join(at, key), fields)),
  };
}

/** A list of sections, returned unread: each item is read by its own code, its errors apart. */
export function sections(doc: string, fields: Schema, { min = 0, noun = 'item' }: { min?: number; noun?: string } = {}): Field<unknown[]> {
  return {
    type: 'list of mappings', required: min > 0, doc, fields, list: true,
    read: (r, o, key, at) => {
      const where = join(at, key);
      const list = r.list(o[key] ?? (min > 0 ? undefined : []), where);
      if (list.length < min) r.fail(where, `at least ${min === 1 ? 'one' : min} ${noun}`, list);
      return list;
    },
  };
}

/** A key whose reading is code of its own (`read`), described for the reference by `type`. */
export function custom<T>(type: string, doc: string, read: Field<T>['read'], more: Partial<Pick<Field<T>, 'default' | 'required' | 'fields'>> = {}): Field<T> {
  return { type, doc, read, ...more };
}
