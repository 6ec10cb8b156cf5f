import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { EgressView } from '../../src/egress/egress.schemas';
import type { IngressView } from '../../src/ingress/ingress.schemas';
import { adminKeyFor, api } from '../helpers/api';
import { GREEN, joinRoom, RED } from '../helpers/live-room';
import { startTestServer, tempDir } from '../helpers/server';
import { frameContainsColour, rgbToYuv } from '../helpers/media-analysis';
import type { TestClient } from '../helpers/wrtc-client';
import { freePort } from '../integration/egress/egress-fixtures';
import { ARTIFACTS, buildPublic, launchChromium, newPage } from './helpers/browser';

const ROOM = 'streams-e2e';

/**
 * The admin page's live streams (issue #13, item 4): egress and ingress started and stopped from
 * the page, their states and errors shown, and an HLS egress played by the page's own player
 * (hls.js served by the server from node_modules) in Debian's Chromium, checked by its pixels.
 */
describe('the admin page starts and stops egress and ingress, and plays HLS (Chromium)', () => {
  const files = tempDir('admin-ingest-files');
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let rtmpPort: number;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let camera: TestClient;
  const procs: ChildProcess[] = [];

  beforeAll(async () => {
    buildPublic();
    // A 2 s clip for the URL pull.
    execFileSync('ffmpeg', [
      ...['-v', 'error', '-y', '-f', 'lavfi', '-i', 'color=c=0x28c83c:size=320x180:rate=15'],
      ...['-f', 'lavfi', '-i', 'sine=frequency=660:sample_rate=48000', '-t', '2'],
      ...['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac'],
      path.join(files, 'clip.mp4'),
    ]);
    rtmpPort = await freePort();
    // Egress at the recording profile: 'low' is plenty for a test on this 2-core machine.
    server = await startTestServer({
      RECORDING_PROFILE: 'low',
      RTMP_PORT: String(rtmpPort),
      INGRESS_FILES_DIR: files,
    });
    // A wrtc participant of one known colour: the HLS picture must be that colour.
    camera = await joinRoom(server, ROOM, 'camera', { colour: RED, toneHz: 440 });
    browser = await launchChromium();
    ({ context, page } = await newPage(browser));
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning')
        process.stderr.write(`[page ${m.type()}] ${m.text()}\n`);
    });
    await page.goto(`${server.url}/admin.html`);
    await page.getByLabel('Admin API key').fill(adminKeyFor(server));
    await page.getByRole('button', { name: 'Sign in' }).click();
    await row().waitFor();
  });

  afterAll(async () => {
    for (const p of procs) p.kill('SIGKILL');
    await context?.close().catch(() => undefined);
    await browser?.close();
    await camera?.close();
    await server?.close();
  });

  const row = () => page.locator(`#rooms tr[data-room-id="${ROOM}"]`);

  it('starts an HLS egress whose link plays in the page with the room’s colour, and stops it', async () => {
    await row().getByLabel(`Egress type for ${ROOM}`).selectOption('hls');
    await page.getByRole('button', { name: `Start egress – ${ROOM}` }).click();
    const item = row().locator('li[data-type="hls"][data-state="active"]');
    await item.waitFor({ timeout: 60000 });
    const id = (await item.getAttribute('data-egress-id')) as string;
    const view = (await api<EgressView>(server, `/api/egress/${id}`)).body;
    expect(view.state).toBe('active');
    // The link on the page is the API's public playlist URL.
    expect(await item.locator('a.hls-link').getAttribute('href')).toBe(`${server.url}${view.playlistUrl}`);

    await page.getByRole('button', { name: `Play – ${id}` }).click();
    // hls.js came from this server (its npm package), not a CDN.
    const hlsJs = await fetch(`${server.url}/vendor/hls.js/hls.min.js`);
    expect(hlsJs.status).toBe(200);
    expect(hlsJs.headers.get('content-type')).toMatch(/javascript/);
    await waitForPlayer(
      page,
      (v) => v.player === 'hls.js' && v.videoWidth > 0 && v.currentTime > 1,
      'playing',
    );
    const t0 = (await playerState(page)).currentTime;
    await waitForPlayer(page, (v) => v.currentTime > t0 + 2, 'currentTime to advance 2 s');
    const frame = await videoColours(page);
    process.stdout.write(`[admin-streams] player ${JSON.stringify(frame)}\n`);
    expect(frame.width).toBeGreaterThan(0);
    // One participant fills the composite: most of the picture is its red.
    expect(frame.nearRed).toBeGreaterThan(0.3);
    await page.screenshot({ path: path.join(ARTIFACTS, 'admin-hls-player.png'), fullPage: true });

    await page.getByRole('button', { name: `Stop – ${id}` }).click();
    await row().locator(`li[data-egress-id="${id}"][data-state="stopped"]`).waitFor({ timeout: 30000 });
    expect((await api<EgressView>(server, `/api/egress/${id}`)).body.state).toBe('stopped');
    await page.getByRole('button', { name: 'Close player' }).click();
    expect(await page.locator('#player-card').isHidden()).toBe(true);
  });

  it('shows why an RTMP egress failed', async () => {
    await row().getByLabel(`Egress type for ${ROOM}`).selectOption('rtmp');
    await row().getByLabel(`RTMP target for ${ROOM}`).fill('rtmp://127.0.0.1:9/live/key');
    await page.getByRole('button', { name: `Start egress – ${ROOM}` }).click();
    const failed = row().locator('li[data-type="rtmp"][data-state="failed"]');
    await failed.waitFor({ timeout: 60000 });
    expect(await failed.locator('.egress-error').innerText()).toMatch(/Connection refused/);
    // A refused request (not an RTMP URL) is reported on the status line and starts nothing.
    const before = (await api<{ items: EgressView[] }>(server, `/api/egress?roomId=${ROOM}`)).body.items
      .length;
    await row().getByLabel(`RTMP target for ${ROOM}`).fill('http://example.com/live');
    await page.getByRole('button', { name: `Start egress – ${ROOM}` }).click();
    await page.locator('#admin-status', { hasText: 'Failed (started egress)' }).waitFor();
    expect((await api<{ items: EgressView[] }>(server, `/api/egress?roomId=${ROOM}`)).body.items.length).toBe(
      before,
    );
  });

  it('creates an RTMP ingest showing the push URL and key; a push makes it publishing; stops it', async () => {
    await row().getByLabel(`Ingress type for ${ROOM}`).selectOption('rtmp');
    await row().getByLabel(`Ingress name for ${ROOM}`).fill('OBS');
    await page.getByRole('button', { name: `Start ingress – ${ROOM}` }).click();
    const item = row().locator('li[data-type="rtmp"][data-state="waiting"]');
    await item.waitFor({ timeout: 30000 });
    const id = (await item.getAttribute('data-ingress-id')) as string;
    const view = (await api<IngressView>(server, `/api/ingress/${id}`)).body;
    const pushUrl = await item.locator('input.push-url').inputValue();
    expect(pushUrl).toBe(view.url);
    expect(pushUrl).toMatch(new RegExp(`^rtmp://127\\.0\\.0\\.1:${rtmpPort}/live/[A-Za-z0-9_-]+$`));
    expect(await item.locator('input.push-server').inputValue()).toBe(`rtmp://127.0.0.1:${rtmpPort}/live`);
    expect(pushUrl.endsWith(`/${await item.locator('input.push-key').inputValue()}`)).toBe(true);
    // In the roster as a participant of role ingress.
    await row().locator('.roster li', { hasText: 'OBS' }).waitFor({ timeout: 30000 });

    // ffmpeg pushes to the URL copied from the page.
    const pusher = spawn(
      'ffmpeg',
      [
        ...['-v', 'error', '-re', '-f', 'lavfi', '-i', 'color=c=0x28c83c:size=320x180:rate=15'],
        ...['-f', 'lavfi', '-i', 'sine=frequency=660:sample_rate=48000'],
        ...['-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '15'],
        ...['-c:a', 'aac', '-f', 'flv', pushUrl],
      ],
      { stdio: 'ignore' },
    );
    procs.push(pusher);
    await row().locator(`li[data-ingress-id="${id}"][data-state="publishing"]`).waitFor({ timeout: 30000 });
    const exited = new Promise((r) => pusher.once('exit', r));
    await page.getByRole('button', { name: `Stop – ${id}` }).click();
    await row().locator(`li[data-ingress-id="${id}"][data-state="ended"]`).waitFor({ timeout: 30000 });
    await exited; // the server cut the publisher off
    expect((await api<IngressView>(server, `/api/ingress/${id}`)).body.state).toBe('ended');
  });

  it('pulls a file by URL, refuses a path outside INGRESS_FILES_DIR, and stops the pull', async () => {
    await row().getByLabel(`Ingress type for ${ROOM}`).selectOption('url');
    await row().getByLabel(`Ingress name for ${ROOM}`).fill('Clip');
    await row().getByLabel(`Ingress source for ${ROOM}`).fill('../escape.mp4');
    await page.getByRole('button', { name: `Start ingress – ${ROOM}` }).click();
    await page.locator('#admin-status', { hasText: 'Failed (started ingress)' }).waitFor();

    await row().getByLabel(`Ingress source for ${ROOM}`).fill('clip.mp4');
    await row().getByLabel(`Loop the ingress file for ${ROOM}`).check();
    await page.getByRole('button', { name: `Start ingress – ${ROOM}` }).click();
    const item = row().locator('li[data-type="url"][data-state="publishing"]');
    await item.waitFor({ timeout: 30000 });
    const id = (await item.getAttribute('data-ingress-id')) as string;
    expect((await api<IngressView>(server, `/api/ingress/${id}`)).body).toMatchObject({
      url: 'clip.mp4',
      loop: true,
      displayName: 'Clip',
    });
    // The pulled clip is in the room: the camera's composite shows its green.
    await waitForColour(() => camera.latestFrame, GREEN);
    await page.screenshot({ path: path.join(ARTIFACTS, 'admin-streams.png'), fullPage: true });
    await page.getByRole('button', { name: `Stop – ${id}` }).click();
    await row().locator(`li[data-ingress-id="${id}"][data-state="ended"]`).waitFor({ timeout: 30000 });
  });
});

interface PlayerState {
  player: string | undefined;
  currentTime: number;
  videoWidth: number;
  readyState: number;
  error: string | null;
  pageError: string;
  buffered: string;
}

function playerState(page: Page): Promise<PlayerState> {
  return page.evaluate(() => {
    const v = document.getElementById('hls-player') as HTMLVideoElement;
    const ranges: string[] = [];
    for (let i = 0; i < v.buffered.length; i++) ranges.push(`${v.buffered.start(i)}-${v.buffered.end(i)}`);
    return {
      player: v.dataset.player,
      currentTime: v.currentTime,
      videoWidth: v.videoWidth,
      readyState: v.readyState,
      error: v.error ? `${v.error.code} ${v.error.message}` : null,
      pageError: document.getElementById('player-error')?.textContent ?? '',
      buffered: ranges.join(','),
    };
  });
}

/** Polls the player; a timeout names its last state (what hls.js and the element reported). */
async function waitForPlayer(
  page: Page,
  cond: (s: PlayerState) => boolean,
  what: string,
  timeoutMs = 90000,
): Promise<PlayerState> {
  const deadline = Date.now() + timeoutMs;
  let last = await playerState(page);
  while (!cond(last)) {
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for the player: ${what}; ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 250));
    last = await playerState(page);
  }
  return last;
}

/** Share of the <video>'s current picture near the test's red, through a canvas. */
function videoColours(page: Page): Promise<{ width: number; height: number; nearRed: number }> {
  return page.evaluate((red) => {
    const v = document.getElementById('hls-player') as HTMLVideoElement;
    const c = document.createElement('canvas');
    c.width = v.videoWidth;
    c.height = v.videoHeight;
    const ctx = c.getContext('2d') as CanvasRenderingContext2D;
    ctx.drawImage(v, 0, 0);
    const d = ctx.getImageData(0, 0, c.width, c.height).data;
    let near = 0;
    let n = 0;
    for (let i = 0; i < d.length; i += 4 * 7) {
      n++;
      const dist = Math.hypot(d[i] - red.r, d[i + 1] - red.g, d[i + 2] - red.b);
      if (dist < 70) near++;
    }
    return { width: c.width, height: c.height, nearRed: near / n };
  }, RED);
}

async function waitForColour(
  frame: () => TestClient['latestFrame'],
  colour: typeof GREEN,
  timeoutMs = 30000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const f = frame();
    if (f && frameContainsColour(f, rgbToYuv(colour))) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error('timed out waiting for the colour in the composite');
}
