/**
 * API keys: which configured key (if any) a request presents. Keys are known only by their
 * SHA-256; a presented key is hashed and compared with every digest in constant time, so neither
 * the comparison nor which entry matched tells an attacker how close a guess came. A key is never
 * logged, kept, or echoed in an error.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
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

function digest(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

/** A set of keys by digest; `find` costs the same whichever key (or none) matches. */
export class KeyRing<T> {
  private readonly entries: Array<{ digest: Buffer; value: T }>;

  constructor(entries: ReadonlyArray<{ sha256: string; value: T }>) {
    this.entries = entries.map((e) => ({ digest: Buffer.from(e.sha256, 'hex'), value: e.value }));
  }

  get size(): number {
    return this.entries.length;
  }

  find(key: string | undefined): T | undefined {
    if (key === undefined) return undefined;
    const d = digest(key);
    let found: T | undefined;
    for (const e of this.entries) {
      // No early exit: every digest is compared.
      if (timingSafeEqual(e.digest, d) && found === undefined) found = e.value;
    }
    return found;
  }
}

/** The tenant keys of `auth.keys`. */
export function tenantRing(keys: readonly ApiKeySpec[]): KeyRing<ApiKeySpec> {
  return new KeyRing(keys.map((k) => ({ sha256: k.sha256, value: k })));
}
