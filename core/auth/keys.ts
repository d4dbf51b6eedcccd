/**
 * API keys: which configured key (if any) a request presents. Keys are known only by their
 * SHA-256; a presented key is hashed once and looked up by its digest. A key is never logged or
 * echoed in an error, and kept only with the connection that presented it (tenants.ts).
 */
import { hash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { ApiKeySpec } from '../config/types.js';

/** `Authorization: Bearer <key>`, else `x-api-key: <key>`; undefined when neither is there. */
export function presentedKey(headers: IncomingHttpHeaders): string | undefined {
  const auth = headers.authorization;
  if (typeof auth === 'string') {
    const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(auth);
    if (m) return m[1];
  }
  const apiKey = headers['x-api-key'];
  if (typeof apiKey === 'string' && apiKey.trim() !== '') return apiKey.trim();
  return undefined;
}

/**
 * Whether two presented keys are the same, in a time that depends on their length only (not on
 * where they first differ). On the strings themselves: crypto.timingSafeEqual takes buffers, one
 * more copy of each key a request.
 */
export function sameSecret(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/**
 * A set of keys by digest. The lookup is one hash of the presented key and one map lookup,
 * however many keys are configured (comparing it with every digest cost a comparison per key on
 * every request: 1,000 tenants, 1,000 comparisons). What the lookup's timing could reveal is how
 * the guess's *digest* compares with stored digests; SHA-256 gives a guesser no way to steer a
 * digest, so it says nothing about how close a guess came to a key.
 */
export class KeyRing<T> {
  private readonly byDigest = new Map<string, T>();

  constructor(entries: ReadonlyArray<{ sha256: string; value: T }>) {
    for (const e of entries) {
      const d = e.sha256.toLowerCase();
      if (!this.byDigest.has(d)) this.byDigest.set(d, e.value); // the first of two equal keys wins
    }
  }

  get size(): number {
    return this.byDigest.size;
  }

  find(key: string | undefined): T | undefined {
    return key === undefined ? undefined : this.byDigest.get(hash('sha256', key, 'hex'));
  }
}

/** The tenant keys of `auth.keys`. */
export function tenantRing(keys: readonly ApiKeySpec[]): KeyRing<ApiKeySpec> {
  return new KeyRing(keys.map((k) => ({ sha256: k.sha256, value: k })));
}
