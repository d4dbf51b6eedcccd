import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DashboardSessions, clearedCookie, sessionToken } from '../../../../core/server/dashboard/sessions.js';

const secret = randomBytes(32);

describe('DashboardSessions', () => {
  it('admits a token it issued until it expires, then never again', () => {
    let now = 0;
    const sessions = new DashboardSessions(secret, 60_000, () => now);
    const token = sessions.open();
    expect(sessions.valid(token)).toBe(true);
    expect(sessions.valid('made-up')).toBe(false);
    expect(sessions.valid(undefined)).toBe(false);
    now = 60_000;
    expect(sessions.valid(token)).toBe(false);
  });

  it('admits a token another process with the same secret issued (workers share no state)', () => {
    const token = new DashboardSessions(secret).open();
    expect(new DashboardSessions(Buffer.from(secret)).valid(token)).toBe(true);
    expect(new DashboardSessions(randomBytes(32)).valid(token)).toBe(false);
  });

  it('refuses a token whose expiry or id was changed', () => {
    const sessions = new DashboardSessions(secret, 60_000, () => 0);
    const [id, expires, mac] = sessions.open().split('.') as [string, string, string];
    expect(sessions.valid(`${id}.${(parseInt(expires, 36) * 2).toString(36)}.${mac}`)).toBe(false);
    expect(sessions.valid(`${id}x.${expires}.${mac}`)).toBe(false);
    expect(sessions.valid(`${id}.${expires}.${mac.slice(0, -1)}`)).toBe(false);
  });

  it('ends a session on logout', () => {
    const sessions = new DashboardSessions(secret);
    const [token, other] = [sessions.open(), sessions.open()];
    sessions.close(token);
    expect(sessions.valid(token)).toBe(false);
    expect(sessions.valid(other)).toBe(true);
  });

  it('sets an HttpOnly, SameSite=Strict cookie for the whole site, Secure over HTTPS', () => {
    const sessions = new DashboardSessions(secret, 3600_000);
    expect(sessions.cookie('abc', false)).toBe('switchyard_session=abc; Path=/; Max-Age=3600; HttpOnly; SameSite=Strict');
    expect(sessions.cookie('abc', true)).toMatch(/; Secure$/);
    expect(clearedCookie()).toContain('Max-Age=0');
  });

  it('reads its token among other cookies', () => {
    expect(sessionToken({ cookie: 'theme=dark; switchyard_session=tok-1 ; other=x' })).toBe('tok-1');
    expect(sessionToken({ cookie: 'my_switchyard_session=no' })).toBeUndefined();
    expect(sessionToken({})).toBeUndefined();
  });
});
