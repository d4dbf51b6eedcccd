import { describe, expect, it } from 'vitest';
import { ClientAddress } from '../../../core/auth/client-address.js';

describe('ClientAddress', () => {
  const xff = (v: string) => ({ 'x-forwarded-for': v });

  it('believes X-Forwarded-For only from a trusted proxy, read from the right', () => {
    const a = new ClientAddress(['10.0.0.0/8', '::1']);
    expect(a.of('203.0.113.7', xff('1.2.3.4'))).toBe('203.0.113.7'); // not a proxy: its own address
    expect(a.of('10.1.2.3', xff('1.2.3.4'))).toBe('1.2.3.4');
    // The client forged a first hop; the trusted proxies appended the real one.
    expect(a.of('10.1.2.3', xff('6.6.6.6, 198.51.100.9, 10.9.9.9'))).toBe('198.51.100.9');
    expect(a.of('::ffff:10.1.2.3', xff('198.51.100.9'))).toBe('198.51.100.9');
    expect(a.of('::1', xff('2001:db8::5'))).toBe('2001:db8::5');
    expect(a.of('10.1.2.3', {})).toBe('10.1.2.3');
    expect(a.of('10.1.2.3', xff('not-an-address'))).toBe('10.1.2.3');
  });

  it('without trusted proxies the peer is the client', () => {
    expect(new ClientAddress([]).of('127.0.0.1', xff('1.2.3.4'))).toBe('127.0.0.1');
  });
});
