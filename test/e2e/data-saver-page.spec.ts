import type { Browser, BrowserContext, Page } from 'playwright-core';
import { api, ensureRoom, token } from '../helpers/api';
import type { ParticipantInfo } from '../../src/rooms/rooms.schemas';
import { startTestServer } from '../helpers/server';
import { buildPublic, joinByLink, launchChromium, newPage, pageStats, waitForStats } from './helpers/browser';

const ROOM = 'data-saver-page';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The join page's downlink controls in Chromium (issue #15 item 5): the data saver stops the
 * picture and keeps the sound, the page says what it receives and why, and turning the data
 * saver off brings the picture back.
 */
describe('the join page: data saver and the received profile', () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  let bob: Page;

  beforeAll(async () => {
    buildPublic();
    server = await startTestServer();
    browser = await launchChromium();
    await ensureRoom(server, ROOM, { name: 'Data saver' });
    for (const name of ['Alice', 'Bob']) {
      const { context, page } = await newPage(browser);
      contexts.push(context);
      const t = await token(server, ROOM, { identity: name.toLowerCase(), displayName: name });
      await joinByLink(page, server.url, ROOM, t);
      if (name === 'Bob') bob = page;
    }
  });

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await server?.close();
  });

  it('data saver: no more pictures, the sound goes on, the page says audio only; off again: pictures again', async () => {
    await waitForStats(bob, (s) => s.frameWidth === 640 && s.audioEnergy > 0, 'standard video and sound');
    await bob.getByLabel('Data saver (audio only)').check();
    await bob.locator('#downlink', { hasText: 'audio only' }).waitFor({ timeout: 20000 });
    await bob.locator('.audio-only-note').waitFor({ state: 'visible', timeout: 5000 });
    await sleep(1500); // frames already on the way
    const a = await pageStats(bob);
    await sleep(3000);
    const b = await pageStats(bob);
    expect(b.framesDecoded - a.framesDecoded).toBeLessThanOrEqual(1);
    expect(b.audioEnergy).toBeGreaterThan(a.audioEnergy);

    await bob.getByLabel('Data saver (audio only)').uncheck();
    await bob.locator('#downlink', { hasText: 'Standard (640×360)' }).waitFor({ timeout: 20000 });
    const c = await waitForStats(
      bob,
      (s) => s.framesDecoded > b.framesDecoded + 10 && s.frameWidth === 640,
      'pictures again at the standard width',
    );
    expect(c.frameHeight).toBe(360);
    await bob.locator('.audio-only-note').waitFor({ state: 'hidden', timeout: 5000 });
  }, 120_000);

  /**
   * Issue #15 item 3: the page sends no more of its camera than the profile it is served can
   * show, and the server reports what arrives (REST, every 5 s). A data-saver page (served
   * `audio`, the weakest links) sends a 320-wide picture; back on standard, 640 again.
   */
  it('the camera follows the profile served: the data saver sends 320 px wide, the server says what arrives', async () => {
    const me = (await pageStats(bob)).participantId;
    const arriving = async (width: number): Promise<NonNullable<ParticipantInfo['uplink']>> => {
      const deadline = Date.now() + 30_000;
      let last: ParticipantInfo['uplink'];
      while (Date.now() < deadline) {
        const res = await api<{ participants: ParticipantInfo[] }>(server, `/api/rooms/${ROOM}/participants`);
        last = res.body.participants.find((p) => p.participantId === me)?.uplink;
        if (last?.width === width && last.fps > 0) return last;
        await sleep(500);
      }
      throw new Error(
        `the server never reported ${width} px arriving from Bob; last: ${JSON.stringify(last)}`,
      );
    };
    await waitForStats(bob, (s) => s.sendWidth === 640, 'Bob sending 640 px on standard');
    const standard = await arriving(640);
    expect(standard.state).toBe('good');
    expect(standard.height).toBe(360);

    await bob.getByLabel('Data saver (audio only)').check();
    await waitForStats(bob, (s) => s.sendWidth === 320, 'Bob sending 320 px with the data saver');
    await bob.locator('#uplink', { hasText: 'Sending: 320 px wide' }).waitFor({ timeout: 10000 });
    const small = await arriving(320);
    expect(small.height).toBe(180);

    await bob.getByLabel('Data saver (audio only)').uncheck();
    await waitForStats(bob, (s) => s.sendWidth === 640, 'Bob sending 640 px again');
    await arriving(640);
  }, 120_000);
});
