import type { Browser, BrowserContext } from 'playwright-core';
import { api, token } from '../helpers/api';
import { joinRoom, RED } from '../helpers/live-room';
import { startTestServer } from '../helpers/server';
import type { TestClient } from '../helpers/wrtc-client';
import { buildPublic, launchChromium, newPage } from './helpers/browser';

/**
 * A node at capacity, seen from the join page: one wrtc publisher fills a small node (the next
 * standard publisher does not fit under its 0.85 limit), and a person following a join link
 * gets a clear message instead of a call, without retries.
 */
describe('the join page on a full server', () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let browser: Browser;
  let context: BrowserContext | undefined;
  let alice: TestClient | undefined;

  beforeAll(async () => {
    buildPublic();
    // 1.7 × 0.85 = 1.445 units: Alice's room takes 1.25 (its shared encode 0.8 + her 0.45), a
    // second publisher would need 0.45 more.
    server = await startTestServer({ NODE_CAPACITY: '1.7', ADMISSION_LIMIT: '0.85' });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await context?.close().catch(() => undefined);
    await alice?.close();
    await browser?.close();
    await server?.close();
  });

  it('shows that the server is full and does not join', async () => {
    alice = await joinRoom(server, 'busy-page', 'alice', { colour: RED, toneHz: 440 });
    const opened = await newPage(browser);
    context = opened.context;
    const page = opened.page;
    const t = await token(server, 'busy-page', { identity: 'bob', displayName: 'Bob' });
    await page.goto(`${server.url}/?room=busy-page#token=${encodeURIComponent(t)}&profile=standard`);
    await page.getByRole('button', { name: 'Join' }).click();
    const error = page.locator('#join-error');
    await error.filter({ hasText: /full/ }).waitFor({ timeout: 30000 });
    expect(await error.textContent()).toMatch(/The server is full right now: .*at capacity.*try again later/);
    // Nothing changed on the server: Alice is still alone in the room, the node still full.
    const roster = await api<{ participants: { identity: string }[] }>(
      server,
      '/api/rooms/busy-page/participants',
    );
    expect(roster.body.participants.map((p) => p.identity)).toEqual(['alice']);
    expect((await api<{ status: string }>(server, '/readyz')).body.status).toBe('full');
  });
});
