import { describe, expect, it } from 'vitest';
import { DashboardSessions, clearedCookie, sessionToken } from '../../../../core/server/dashboard/sessions.js';

describe('DashboardSessions', () => {
  it('admits a token it issued until it expires, then never again', () => {
    let now = 0;
    const sessions = new DashboardSessions(60_000, 10, () => now);
    const token = sessions.open();
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(sessions.valid(token)).toBe(true);
    expect(sessions.valid('made-up')).toBe(false);
    expect(sessions.valid(undefined)).toBe(false);
    now = 60_000;
    expect(sessions.valid(token)).toBe(false);
    now = 0;
    expect(sessions.valid(token)).toBe(false);
  });

  it('ends a session on logout', () => {
    const sessions = new DashboardSessions();
    const token = sessions.open();
    sessions.close(token);
    expect(sessions.valid(token)).toBe(false);
  });

  it('ends the oldest session past its cap', () => {
    const sessions = new DashboardSessions(60_000, 2);
    const [first, second, third] = [sessions.open(), sessions.open(), sessions.open()];
    expect([sessions.valid(first), sessions.valid(second), sessions.valid(third)]).toEqual([false, true, true]);
  });

  it('sets an HttpOnly, SameSite=Strict cookie for the whole site, Secure over HTTPS', () => {
    const sessions = new DashboardSessions(3600_000);
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
