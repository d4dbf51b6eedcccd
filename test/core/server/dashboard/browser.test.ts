/**
 * The dashboard in a real browser: Debian's chromium, driven by playwright-core, against a
 * running fleet. Logs in through the form, sees the backends, watches the page follow traffic,
 * and fails on any console error or uncaught page error. The screenshot taken under load is kept
 * at test/artifacts/dashboard.png.
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../gateway-helpers.js';
import { ADMIN_KEY, sendTraffic, startFleet, type Fleet } from './fleet.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = path.resolve(import.meta.dirname, '../../../artifacts');
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.warn(`dashboard browser test skipped: ${CHROMIUM} is absent (apt-get install chromium)`);

describe.skipIf(!hasChromium)('dashboard in chromium', () => {
  let fleet: Fleet;
  let browser: Browser;

  beforeAll(async () => {
    [fleet, browser] = await Promise.all([
      startFleet(),
      chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-background-networking'] }),
    ]);
  });
  afterAll(async () => {
    await browser?.close();
    await fleet?.close();
  });

  it('logs in, shows the backends, follows the traffic, and logs no console errors', async () => {
    const url = fleet.gw.url;
    const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
    page.on('pageerror', (err) => errors.push(`page: ${err.message}`));
    // Nothing may leave loopback: the page and its chart library come from the gateway.
    const offsite: string[] = [];
    page.on('request', (r) => { if (!r.url().startsWith(url) && !r.url().startsWith('data:')) offsite.push(r.url()); });

    await page.goto(`${url}/dashboard`);
    await page.fill('#key', ADMIN_KEY);
    await page.click('button[type=submit]');
    await page.waitForSelector('#backends tr[data-backend="replica-1"]');
    const [session] = await context.cookies(url);
    expect(session).toMatchObject({ name: 'switchyard_session', httpOnly: true, sameSite: 'Strict' });
    expect(await page.locator('#backends tbody tr').evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.backend))).toEqual(['replica-0', 'replica-1']);
    expect(await page.locator('#status').textContent()).toBe('live');

    const count = (selector: string, attribute: string) =>
      page.locator(selector).first().evaluate((el, name) => Number((el as HTMLElement).dataset[name] ?? 0), attribute);
    const pointsBefore = await count('#chart-decisions', 'points');

    let stop = false;
    const traffic = sendTraffic(url, 1000, 4, () => stop);
    try {
      // The page follows: requests counted in the route's window, usage per key, both A/B arms.
      await waitFor(async () => (await count('[data-route="qwen"] .stats', 'requests')) > 0, 20_000);
      await waitFor(async () => (await page.locator('#usage tbody').textContent())?.includes('team-a') ?? false, 20_000);
      await waitFor(async () => (await page.locator('#ab canvas.forest').count()) === 1, 20_000);
      // Two more seconds of load draw lines worth looking at.
      const drawn = await count('#chart-decisions', 'points');
      await waitFor(async () => (await count('#chart-decisions', 'points')) >= drawn + 2, 20_000);
      mkdirSync(ARTIFACTS, { recursive: true });
      const shot = path.join(ARTIFACTS, 'dashboard.png');
      await page.screenshot({ path: shot, fullPage: true });
      console.log(`dashboard screenshot: ${shot}`);
    } finally {
      stop = true;
      await traffic;
    }
    expect(await count('#chart-decisions', 'points')).toBeGreaterThan(pointsBefore);
    expect(await page.locator('#ab h3').textContent()).toBe('qwen-ab');
    expect(offsite).toEqual([]);
    expect(errors).toEqual([]);
    await context.close();
  });
});
