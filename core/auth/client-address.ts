/**
 * The client's address for per-address caps. X-Forwarded-For is believed only when the peer is
 * one of `auth.trusted_proxies`, and then read from the right: each trusted hop appended the
 * address it saw, so the first address from the right that is not a trusted proxy is the client
 * (anything left of it is whatever the client chose to send).
 */
import { BlockList, isIP } from 'node:net';
import type { IncomingHttpHeaders } from 'node:http';

export class ClientAddress {
  private readonly trusted = new BlockList();
  private readonly hasProxies: boolean;

  /** `ranges`: addresses and CIDR ranges, validated at config load. */
  constructor(ranges: readonly string[]) {
    for (const range of ranges) {
      const [address, bits] = range.split('/') as [string, string | undefined];
      const type = isIP(address) === 6 ? 'ipv6' : 'ipv4';
      if (bits === undefined) this.trusted.addAddress(address, type);
      else this.trusted.addSubnet(address, Number(bits), type);
    }
    this.hasProxies = ranges.length > 0;
  }

  of(peer: string | undefined, headers: IncomingHttpHeaders): string {
    const direct = normalize(peer ?? 'unknown');
    if (!this.hasProxies || !this.isTrusted(direct)) return direct;
    const raw = headers['x-forwarded-for'];
    const hops = (Array.isArray(raw) ? raw.join(',') : raw ?? '').split(',').map((h) => normalize(h.trim())).filter((h) => h !== '');
    for (let i = hops.length - 1; i >= 0; i--) {
      if (isIP(hops[i]!) === 0) return direct; // a malformed trail is not believed
      if (!this.isTrusted(hops[i]!)) return hops[i]!;
    }
    return hops[0] ?? direct;
  }

  private isTrusted(address: string): boolean {
    const family = isIP(address);
    if (family === 0) return false;
    return this.trusted.check(address, family === 6 ? 'ipv6' : 'ipv4');
  }
}

/** `::ffff:10.0.0.1` (an IPv4 peer on a dual-stack socket) is `10.0.0.1`. */
function normalize(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}
