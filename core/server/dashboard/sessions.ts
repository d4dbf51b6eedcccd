/**
 * Dashboard sessions: an admin key entered once in the login form buys a session token, which the
 * browser keeps in an HttpOnly, SameSite=Strict cookie. The key itself is never stored or sent back.
 *
 * A token is a random id and its expiry, signed (HMAC-SHA256) with a secret derived from the admin
 * keys: with `workers: N` the page's requests land on any worker, and each admits a session another
 * issued without sharing state. Changing the admin keys ends every session. Logging out revokes the
 * token in the process that took the logout (and the browser drops the cookie).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

export const SESSION_COOKIE = 'switchyard_session';

export class DashboardSessions {
  /** Revoked tokens until they would have expired anyway. */
  private readonly revoked = new Map<string, number>();

  constructor(
    private readonly secret: Buffer,
    private readonly ttlMs = 8 * 3600_000,
    private readonly now: () => number = Date.now,
  ) {}

  open(): string {
    const payload = `${randomBytes(18).toString('base64url')}.${(this.now() + this.ttlMs).toString(36)}`;
    return `${payload}.${this.sign(payload)}`;
  }

  valid(token: string | undefined): boolean {
    const expires = this.expiryOf(token);
    return expires !== undefined && expires > this.now() && !this.revoked.has(token!);
  }

  close(token: string | undefined): void {
    const expires = this.expiryOf(token);
    if (expires === undefined) return;
    const now = this.now();
    for (const [t, e] of this.revoked) if (e <= now) this.revoked.delete(t);
    if (expires > now) this.revoked.set(token!, expires);
  }

  /** The Set-Cookie value for a token; `secure` when the page was served over HTTPS. */
  cookie(token: string, secure: boolean): string {
    return `${SESSION_COOKIE}=${token}; Path=/; Max-Age=${Math.floor(this.ttlMs / 1000)}; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
  }

  /** A well-signed token's expiry (ms since epoch); undefined for anything else. */
  private expiryOf(token: string | undefined): number | undefined {
    const parts = token?.split('.');
    if (parts?.length !== 3) return undefined;
    const [id, expires, mac] = parts as [string, string, string];
    const expected = Buffer.from(this.sign(`${id}.${expires}`));
    const given = Buffer.from(mac);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    return parseInt(expires, 36);
  }

  private sign(payload: string): string {
    return createHmac('sha256', this.secret).update(payload).digest('base64url');
  }
}

/** The session token a request's Cookie header carries, if any. */
export function sessionToken(headers: IncomingHttpHeaders): string | undefined {
  const header = headers.cookie;
  if (typeof header !== 'string') return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === SESSION_COOKIE) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** A Set-Cookie value that removes the session cookie. */
export function clearedCookie(): string {
  return `${SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict`;
}
