/**
 * Dashboard sessions: an admin key entered once in the login form buys a random token kept in
 * this process's memory with an expiry; the browser holds only the token, in an HttpOnly,
 * SameSite=Strict cookie. The key itself is never stored or sent back. A restart logs everyone
 * out, which is fine for an operator's page.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

export const SESSION_COOKIE = 'switchyard_session';

export class DashboardSessions {
  private readonly expiries = new Map<string, number>();

  constructor(
    private readonly ttlMs = 8 * 3600_000,
    /** Logins beyond this many live sessions end the oldest (a Map iterates in insertion order). */
    private readonly maxSessions = 1000,
    private readonly now: () => number = Date.now,
  ) {}

  open(): string {
    this.prune();
    while (this.expiries.size >= this.maxSessions) this.expiries.delete(this.expiries.keys().next().value!);
    const token = randomBytes(32).toString('base64url');
    this.expiries.set(token, this.now() + this.ttlMs);
    return token;
  }

  valid(token: string | undefined): boolean {
    if (token === undefined) return false;
    const expires = this.expiries.get(token);
    if (expires === undefined) return false;
    if (expires <= this.now()) {
      this.expiries.delete(token);
      return false;
    }
    return true;
  }

  close(token: string | undefined): void {
    if (token !== undefined) this.expiries.delete(token);
  }

  /** The Set-Cookie value for a token; `secure` when the page was served over HTTPS. */
  cookie(token: string, secure: boolean): string {
    return `${SESSION_COOKIE}=${token}; Path=/; Max-Age=${Math.floor(this.ttlMs / 1000)}; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
  }

  private prune(): void {
    const now = this.now();
    for (const [token, expires] of this.expiries) if (expires <= now) this.expiries.delete(token);
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
