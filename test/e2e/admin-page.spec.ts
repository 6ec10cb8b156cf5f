import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { adminKeyFor, api } from '../helpers/api';
import { startTestServer } from '../helpers/server';
import { ARTIFACTS, buildPublic, launchChromium, newPage, pageStats, waitForStats } from './helpers/browser';

const ROOM = 'admin-e2e';

describe('the admin page in Chromium', () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  let admin: Page;
  let guest: Page;

  beforeAll(async () => {
    buildPublic();
    // Record at the standard profile: 'high' (the default) is more than this 2-core machine needs
    // for a test, next to a browser that sends and receives video.
    server = await startTestServer({ RECORDING_PROFILE: 'standard' });
    browser = await launchChromium();
    for (const slot of ['admin', 'guest'] as const) {
      const { context, page } = await newPage(browser);
      contexts.push(context);
      if (slot === 'admin') admin = page;
      else guest = page;
    }
  });

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await server?.close();
  });

  /** A control inside the table row of the room. */
  const roomRow = () => admin.locator(`#rooms tr[data-room-id="${ROOM}"]`);
  const room = () =>
    api<{
      layout: string;
      pinnedParticipantId: string | null;
      participants: { participantId: string; audioMuted: boolean }[];
    }>(server, `/api/rooms/${ROOM}`);

  it('refuses a wrong API key and signs in with the right one', async () => {
    await admin.goto(`${server.url}/admin.html`);
    await admin.getByLabel('Admin API key').fill('not-the-admin-key-at-all');
    await admin.getByRole('button', { name: 'Sign in' }).click();
    await admin.getByText('That API key was not accepted.').waitFor();
    await admin.getByLabel('Admin API key').fill(adminKeyFor(server));
    await admin.getByRole('button', { name: 'Sign in' }).click();
    await admin.getByRole('heading', { name: 'Rooms' }).waitFor();
  });

  it('creates a room and hands out a join link that a guest follows into the call', async () => {
    await admin.getByLabel('Id', { exact: true }).fill(ROOM);
    await admin.getByLabel('Name', { exact: true }).fill('Admin test');
    await admin.getByRole('button', { name: 'Create room' }).click();
    await roomRow().waitFor();
    await admin.getByRole('button', { name: `Join link – ${ROOM}` }).click();
    const link = admin.getByLabel(`Join link for ${ROOM}`);
    await admin.waitForFunction(
      (id) =>
        (
          document.querySelector(`[aria-label="Join link for ${id}"]`) as HTMLInputElement | null
        )?.value.includes('#token='),
      ROOM,
    );
    await guest.goto(await link.inputValue());
    await guest.getByRole('button', { name: 'Join' }).click();
    await waitForStats(
      guest,
      (s) => s.state === 'connected' && s.framesDecoded > 0,
      'the guest to be in the call',
    );
    await roomRow().locator('li', { hasText: 'Guest' }).waitFor({ timeout: 30000 });
  });

  it('switches the layout, pins and mutes a participant through the REST API', async () => {
    await roomRow().getByLabel(`Layout of ${ROOM}`).selectOption('speaker');
    await until(async () => (await room()).body.layout === 'speaker', 'layout speaker');

    const { participantId } = await pageStats(guest);
    await admin.getByRole('button', { name: `Pin – Guest in ${ROOM}` }).click();
    await until(
      async () => (await room()).body.pinnedParticipantId === participantId,
      'the guest to be pinned',
    );
    expect((await room()).body.layout).toBe('pinned');

    await admin.getByRole('button', { name: `Mute mic – Guest in ${ROOM}` }).click();
    await until(
      async () => (await room()).body.participants.some((p) => p.audioMuted),
      'the guest to be muted',
    );
    // The guest's own page learns it from the `muted-by-server` event.
    await guest.locator('#mic.server-muted').waitFor({ timeout: 30000 });
    await admin.screenshot({ path: path.join(ARTIFACTS, 'admin-rooms.png'), fullPage: true });
    await guest.screenshot({ path: path.join(ARTIFACTS, 'join-page-muted-by-admin.png'), fullPage: true });
    await admin.getByRole('button', { name: `Unmute mic – Guest in ${ROOM}` }).click();
    await until(
      async () => (await room()).body.participants.every((p) => !p.audioMuted),
      'the guest to be unmuted',
    );
  });

  it('starts and stops a recording, which then shows as ready with a duration and downloads', async () => {
    const probe = await api(server, '/api/recordings');
    if (probe.status === 404)
      throw new Error('the recordings REST API is missing: GET /api/recordings answered 404');
    await admin.getByRole('button', { name: `Start recording – ${ROOM}` }).click();
    const row = admin.locator('#recordings tr[data-state="recording"]');
    await row.waitFor({ timeout: 30000 });
    const recordingId = await row.getAttribute('data-recording-id');
    expect(recordingId).toBeTruthy();
    // The guest is told that the call is being recorded.
    await guest.locator('#recording-badge').waitFor({ timeout: 30000 });
    // A few seconds of call: wait for the guest to decode 45 more frames (3 s at 15 fps).
    const start = await pageStats(guest);
    await waitForStats(
      guest,
      (s) => s.framesDecoded >= start.framesDecoded + 45,
      'three more seconds of call',
    );

    await admin.getByRole('button', { name: `Stop recording – ${ROOM}` }).click();
    const ready = admin.locator(`#recordings tr[data-recording-id="${recordingId}"][data-state="ready"]`);
    await ready.waitFor({ timeout: 120000 });
    expect(await ready.locator('.duration').innerText()).toMatch(/^\d+:\d\d$/);
    await admin.waitForFunction(
      (id) =>
        document
          .querySelector<HTMLImageElement>(`tr[data-recording-id="${id}"] img.thumb`)
          ?.src.startsWith('blob:'),
      recordingId,
      { timeout: 30000 },
    );
    await admin.screenshot({ path: path.join(ARTIFACTS, 'admin-page.png'), fullPage: true });

    const [download] = await Promise.all([
      admin.waitForEvent('download'),
      admin.getByRole('button', { name: `Download – ${recordingId}` }).click(),
    ]);
    const file = path.join(ARTIFACTS, `${recordingId}.mp4`);
    await download.saveAs(file);
    const head = fs.readFileSync(file).subarray(0, 12);
    expect(fs.statSync(file).size).toBeGreaterThan(1000);
    expect(head.subarray(4, 8).toString('latin1')).toBe('ftyp'); // an MP4 file
    fs.rmSync(file);
  });

  it('kicks the guest, whose page says so', async () => {
    await admin.getByRole('button', { name: `Kick – Guest in ${ROOM}` }).click();
    await guest.locator('#join-error', { hasText: 'removed' }).waitFor({ timeout: 30000 });
    await roomRow().locator('li', { hasText: 'Guest' }).waitFor({ state: 'detached', timeout: 30000 });
  });

  it('deletes the room after a confirmation', async () => {
    admin.once('dialog', (d) => void d.accept());
    await admin.getByRole('button', { name: `Delete – room ${ROOM}` }).click();
    await roomRow().waitFor({ state: 'detached' });
    expect((await room()).status).toBe(404);
  });
});

async function until(cond: () => Promise<boolean>, what: string, timeoutMs = 30000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
