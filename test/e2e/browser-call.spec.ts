import * as path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { SignalingGateway } from '../../src/signaling/signaling.gateway';
import { ensureRoom, token } from '../helpers/api';
import { startTestServer } from '../helpers/server';
import {
  ARTIFACTS,
  buildPublic,
  joinByLink,
  launchChromium,
  newPage,
  pageStats,
  waitForStats,
} from './helpers/browser';

const ROOM = 'browser-call';

describe('the join page in Chromium', () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  let alice: Page;
  let bob: Page;

  beforeAll(async () => {
    buildPublic();
    server = await startTestServer();
    browser = await launchChromium();
    await ensureRoom(server, ROOM, { name: 'Browser call' });
    for (const name of ['Alice', 'Bob']) {
      const { context, page } = await newPage(browser);
      contexts.push(context);
      const t = await token(server, ROOM, { identity: name.toLowerCase(), displayName: name });
      await joinByLink(page, server.url, ROOM, t);
      if (name === 'Alice') alice = page;
      else bob = page;
    }
  });

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await server?.close();
  });

  it('gives both pages the mixed video at the standard width and sound that keeps arriving', async () => {
    for (const page of [alice, bob]) {
      const first = await waitForStats(
        page,
        (s) => s.frameWidth === 640 && s.audioEnergy > 0,
        'standard video and sound',
      );
      expect(first.frameHeight).toBe(360);
      const later = await waitForStats(
        page,
        (s) => s.framesDecoded > first.framesDecoded && s.audioEnergy > first.audioEnergy,
        'more frames and more sound',
      );
      expect(later.framesDecoded).toBeGreaterThan(first.framesDecoded);
      expect(later.audioEnergy).toBeGreaterThan(first.audioEnergy);
    }
  });

  it('lists both participants on each page', async () => {
    for (const page of [alice, bob]) {
      await expectText(page, '#participants', ['Alice', 'Bob']);
      expect(await page.locator('#participants li').count()).toBe(2);
    }
  });

  it('highlights the active speaker: with Alice muted, Bob is the one speaking', async () => {
    const aliceMic = alice.getByRole('button', { name: /microphone/ });
    await aliceMic.click();
    expect(await aliceMic.getAttribute('aria-pressed')).toBe('true');
    for (const page of [alice, bob]) {
      await page
        .locator('#participants li[data-speaking="true"]', { hasText: 'Bob' })
        .waitFor({ timeout: 30000 });
      expect(await page.locator('#participants li[data-speaking="true"]').count()).toBe(1);
    }
    await alice.screenshot({ path: path.join(ARTIFACTS, 'join-page-standard.png'), fullPage: true });
    await aliceMic.click();
    expect(await aliceMic.getAttribute('aria-pressed')).toBe('false');
  });

  it('switching one page to low changes the width it receives, and only its own', async () => {
    await alice.getByLabel('Quality', { exact: true }).selectOption('low');
    const low = await waitForStats(alice, (s) => s.frameWidth === 320, 'the low profile (320 wide)');
    expect(low.frameHeight).toBe(180);
    const after = await waitForStats(
      alice,
      (s) => s.framesDecoded > low.framesDecoded,
      'frames after the switch',
    );
    expect(after.frameWidth).toBe(320);
    expect((await pageStats(bob)).frameWidth).toBe(640);
    await alice.screenshot({ path: path.join(ARTIFACTS, 'join-page-low.png'), fullPage: true });
  });

  it('mutes and unmutes the microphone and camera from the toolbar', async () => {
    const mic = bob.getByRole('button', { name: /microphone/ });
    await mic.click();
    expect(await mic.getAttribute('aria-pressed')).toBe('true');
    expect(
      await bob.evaluate(() => document.querySelector<HTMLVideoElement>('#self')!.srcObject),
    ).toBeTruthy();
    const tracksEnabled = () =>
      bob.evaluate(() =>
        ((document.querySelector<HTMLVideoElement>('#self')!.srcObject as MediaStream).getTracks() ?? []).map(
          (t) => `${t.kind}:${t.enabled}`,
        ),
      );
    expect(await tracksEnabled()).toContain('audio:false');
    await bob.getByRole('button', { name: /camera/ }).click();
    expect(await tracksEnabled()).toEqual(expect.arrayContaining(['audio:false', 'video:false']));
    await mic.click();
    await bob.getByRole('button', { name: /camera/ }).click();
    expect(await tracksEnabled()).toEqual(expect.arrayContaining(['audio:true', 'video:true']));
  });

  it('rejoins by itself after its connection drops', async () => {
    const before = await pageStats(bob);
    // Cut the transport under Bob's socket, as a network loss does (not a clean disconnect).
    const gateway = server.app.get(SignalingGateway);
    const socket = [...gateway.server.sockets.sockets.values()].find(
      (s) => s.data.participantId === before.participantId,
    );
    expect(socket).toBeDefined();
    socket!.conn.close();
    const back = await waitForStats(
      bob,
      (s) => s.state === 'connected' && s.participantId !== before.participantId && s.framesDecoded > 0,
      'Bob to rejoin with a new participant id and receive video',
    );
    expect(back.frameWidth).toBe(640);
    await expectText(alice, '#participants', ['Alice', 'Bob']);
    expect(await alice.locator('#participants li').count()).toBe(2);
  });

  it('leaves and shows the join form again', async () => {
    await bob.getByRole('button', { name: 'Leave' }).click();
    await bob.getByRole('button', { name: 'Join' }).waitFor({ state: 'visible' });
    expect((await pageStats(bob)).state).toBe('idle');
    await waitForCount(alice, '#participants li', 1);
  });
});

async function expectText(page: Page, selector: string, texts: string[]): Promise<void> {
  for (const t of texts) await page.locator(selector, { hasText: t }).waitFor({ timeout: 30000 });
}

async function waitForCount(page: Page, selector: string, n: number): Promise<void> {
  await page.waitForFunction(
    ([sel, count]) => document.querySelectorAll(sel as string).length === count,
    [selector, n] as const,
    {
      timeout: 30000,
    },
  );
}
