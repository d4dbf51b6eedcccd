/**
 * Worker-thread entry of LargeBodies (large-body.ts): a large request body is parsed, checked,
 * keyed and serialised again here, never on the event loop.
 *
 * The body's bytes arrive in chunks as the client sends them. At the end the worker parses them,
 * walks the result once (depth, prototype poisoning, text size), validates it against the
 * endpoint's schema (the same schemas and ajv options as the HTTP front door), computes the
 * approximate prefix key over its canonical prompt, and answers with a light copy: every
 * top-level field except the bulky ones, which stay here. When a plugin sends the body upstream
 * the worker serialises it with the gateway's top-level rewrites and transfers the bytes.
 *
 * The protocol types live here so that large-body.ts can import them as types only; importing
 * this module anywhere but in a worker does nothing (there is no parentPort).
 */
import { parentPort } from 'node:worker_threads';
import { Ajv, type ValidateFunction } from 'ajv';
import { chatBodySchema, completionBodySchema, embeddingBodySchema, describeValidationError, type ValidationFailure } from './schemas.js';
import { MAX_JSON_DEPTH } from './json-depth.js';
import { prefixKey } from '../routing/prefix-key.js';
import type { FieldSpec } from '../plugin/body.js';

export type BodyKind = 'chat' | 'completions' | 'embeddings';

export type BodyWorkerRequest =
  | { op: 'chunk'; id: number; bytes: Uint8Array }
  | { op: 'end'; id: number; kind: BodyKind; chunkBytes: number }
  | { op: 'encode'; id: number; call: number; fields: FieldSpec[] }
  | { op: 'materialize'; id: number; call: number }
  | { op: 'drop'; id: number };

export interface ParsedBody {
  /** Every top-level key, in the body's order. */
  keys: string[];
  /** The top-level fields small enough to copy to the event loop. */
  light: Record<string, unknown>;
  /** The fields held in the worker, with their approximate size in bytes. */
  held: Array<{ key: string; bytes: number }>;
  prefix: { hashes: number[]; bytes: number; chunkBytes: number };
  /** Characters of text in the whole body (token estimates). */
  textChars: number;
}

export type BodyWorkerReply =
  | { type: 'parsed'; id: number; body: ParsedBody }
  | { type: 'invalid'; id: number; failure: ValidationFailure }
  | { type: 'encoded'; id: number; call: number; bytes: Uint8Array }
  | { type: 'materialized'; id: number; call: number; body: Record<string, unknown> }
  | { type: 'failed'; id: number; call?: number; message: string };

/** A top-level field weighing more than this (characters plus 8 per node) stays in the worker. */
export const HOLD_FIELD_WEIGHT = 16 * 1024;

interface Walk {
  tooDeep: boolean;
  poisoned: boolean;
  textChars: number;
  /** Per top-level field: characters of text plus 8 per object, array or scalar. */
  weights: Map<string, number>;
}

/** One pass over the parsed body: depth, __proto__ / constructor.prototype keys, text and field weights. */
function walk(body: Record<string, unknown>): Walk {
  const out: Walk = { tooDeep: false, poisoned: false, textChars: 0, weights: new Map() };
  for (const key of Object.keys(body)) {
    const stack: unknown[] = [body[key]];
    const depths: number[] = [2];
    let weight = 0;
    while (stack.length > 0) {
      const node = stack.pop();
      const depth = depths.pop() as number;
      weight += 8;
      if (typeof node === 'string') {
        weight += node.length;
        out.textChars += node.length;
        continue;
      }
      if (typeof node !== 'object' || node === null) continue;
      if (depth > MAX_JSON_DEPTH) {
        out.tooDeep = true;
        return out;
      }
      if (Array.isArray(node)) {
        for (const child of node) { stack.push(child); depths.push(depth + 1); }
        continue;
      }
      const record = node as Record<string, unknown>;
      // JSON.parse makes "__proto__" an own key; fastify refuses such bodies, and so does this.
      if (Object.hasOwn(record, '__proto__') || (isRecord(record.constructor) && Object.hasOwn(record.constructor, 'prototype'))) {
        out.poisoned = true;
        return out;
      }
      for (const k in record) {
        weight += k.length;
        stack.push(record[k]);
        depths.push(depth + 1);
      }
    }
    out.weights.set(key, weight);
  }
  return out;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function start(port: NonNullable<typeof parentPort>): void {
  // The front door's ajv options (core/server/app.ts): types checked, never coerced or defaulted.
  const ajv = new Ajv({ coerceTypes: false, useDefaults: false, removeAdditional: false, allErrors: false, addUsedSchema: false });
  const validators: Record<BodyKind, ValidateFunction> = {
    chat: ajv.compile(chatBodySchema),
    completions: ajv.compile(completionBodySchema),
    embeddings: ajv.compile(embeddingBodySchema),
  };
  const pending = new Map<number, Uint8Array[]>();
  const bodies = new Map<number, Record<string, unknown>>();
  const reply = (msg: BodyWorkerReply, transfer: ArrayBuffer[] = []) => port.postMessage(msg, transfer);

  const finish = (id: number, kind: BodyKind, chunkBytes: number) => {
    const chunks = pending.get(id) ?? [];
    pending.delete(id);
    let body: unknown;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch (err) {
      reply({ type: 'invalid', id, failure: { name: 'SY_ERR_INVALID_JSON', message: `the body is not valid JSON: ${err instanceof Error ? err.message : String(err)}` } });
      return;
    }
    if (!isRecord(body)) {
      // The schema says why (the body must be an object).
      reply({ type: 'invalid', id, failure: validators[kind](body) ? { name: 'SY_ERR_INVALID_FIELD', message: 'body: must be object' } : describeValidationError(validators[kind].errors?.[0]) });
      return;
    }
    const seen = walk(body);
    if (seen.tooDeep) {
      reply({ type: 'invalid', id, failure: { name: 'SY_ERR_INVALID_JSON', message: `the body nests deeper than ${MAX_JSON_DEPTH} levels of objects and arrays` } });
      return;
    }
    if (seen.poisoned) {
      reply({ type: 'invalid', id, failure: { name: 'SY_ERR_INVALID_JSON', message: 'the body is not valid JSON: Object contains forbidden prototype property' } });
      return;
    }
    if (!validators[kind](body)) {
      reply({ type: 'invalid', id, failure: describeValidationError(validators[kind].errors?.[0]) });
      return;
    }
    const light: Record<string, unknown> = {};
    const held: ParsedBody['held'] = [];
    for (const [key, weight] of seen.weights) {
      if (weight > HOLD_FIELD_WEIGHT) held.push({ key, bytes: weight });
      else light[key] = body[key];
    }
    const key = prefixKey(body, chunkBytes);
    bodies.set(id, body);
    reply({ type: 'parsed', id, body: { keys: Object.keys(body), light, held, prefix: { hashes: key.hashes, bytes: key.bytes, chunkBytes }, textChars: seen.textChars } });
  };

  port.on('message', (req: BodyWorkerRequest) => {
    switch (req.op) {
      case 'chunk': {
        let chunks = pending.get(req.id);
        if (!chunks) pending.set(req.id, (chunks = []));
        chunks.push(req.bytes);
        return;
      }
      case 'end':
        finish(req.id, req.kind, req.chunkBytes);
        return;
      case 'encode': {
        const body = bodies.get(req.id);
        if (!body) {
          reply({ type: 'failed', id: req.id, call: req.call, message: 'the body is no longer held' });
          return;
        }
        const out: Record<string, unknown> = {};
        for (const f of req.fields) out[f.key] = 'held' in f ? body[f.held] : f.value;
        const bytes = Buffer.from(JSON.stringify(out));
        // A fresh array of its own (Buffer.from may share a pooled slab): its memory moves to the caller.
        const own = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : Uint8Array.prototype.slice.call(bytes);
        reply({ type: 'encoded', id: req.id, call: req.call, bytes: own }, [own.buffer as ArrayBuffer]);
        return;
      }
      case 'materialize': {
        const body = bodies.get(req.id);
        if (body) reply({ type: 'materialized', id: req.id, call: req.call, body });
        else reply({ type: 'failed', id: req.id, call: req.call, message: 'the body is no longer held' });
        return;
      }
      case 'drop':
        pending.delete(req.id);
        bodies.delete(req.id);
        return;
    }
  });
}

if (parentPort) start(parentPort);
