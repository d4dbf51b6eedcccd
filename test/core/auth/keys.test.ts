import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { KeyRing, presentedKey } from '../../../core/auth/keys.js';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

describe('keys', () => {
  it('reads Authorization: Bearer, else x-api-key', () => {
    expect(presentedKey({ authorization: 'Bearer sk-1' })).toBe('sk-1');
    expect(presentedKey({ authorization: 'bearer  sk-1 ' })).toBe('sk-1');
    expect(presentedKey({ 'x-api-key': 'sk-2' })).toBe('sk-2');
    expect(presentedKey({ authorization: 'Basic abc', 'x-api-key': 'sk-2' })).toBe('sk-2');
    expect(presentedKey({ authorization: 'Bearer' })).toBeUndefined();
    expect(presentedKey({})).toBeUndefined();
  });

  it('finds a key by its digest', () => {
    const ring = new KeyRing([{ sha256: sha('alpha'), value: 'a' }, { sha256: sha('beta'), value: 'b' }]);
    expect(ring.find('beta')).toBe('b');
    expect(ring.find('gamma')).toBeUndefined();
    expect(ring.find(undefined)).toBeUndefined();
  });

  it('finds any of a thousand keys, whatever the digest\'s case; of two equal keys the first', () => {
    const ring = new KeyRing(Array.from({ length: 1000 }, (_, i) => ({ sha256: i % 2 ? sha(`k${i}`).toUpperCase() : sha(`k${i}`), value: i })));
    expect(ring.size).toBe(1000);
    expect(ring.find('k0')).toBe(0);
    expect(ring.find('k999')).toBe(999);
    expect(ring.find('k1000')).toBeUndefined();
    expect(new KeyRing([{ sha256: sha('x'), value: 'first' }, { sha256: sha('x'), value: 'second' }]).find('x')).toBe('first');
  });
});
