import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { ROOT } from '../../helpers/server';
import { ffmpegLavfi } from './page-media';

/** Screenshots and downloads of the browser tests (git-ignored). */
export const ARTIFACTS = path.join(ROOT, 'test-artifacts', 'e2e');

/** Bundles public/src into public/dist, as `npm start` and `npm test` do through setup. */
export function buildPublic(): void {
  execFileSync(process.execPath, [path.join(ROOT, 'scripts/build-public.js')], { stdio: 'pipe' });
  fs.mkdirSync(ARTIFACTS, { recursive: true });
}

/**
 * Debian's Chromium with a fake camera (a moving test pattern) and a fake microphone that plays
 * a continuous 440 Hz tone (Chromium's built-in fake microphone only beeps briefly, too short
 * for the server's active-speaker detection), with autoplay allowed so pages play sound
 * without a click from a person.
 */
export async function launchChromium(
  opts: {
    cameraY4m?: string;
    /**
     * Runs the browser inside this network namespace (test/helpers/shaped-link.ts): `ip netns
     * exec` keeps the pipe Playwright drives it through, so only its network moves.
     */
    netns?: string;
    /** An http origin to treat as secure (getUserMedia) when the server is not on localhost. */
    secureOrigin?: string;
  } = {},
): Promise<Browser> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcu-e2e-media-'));
  let executablePath = '/usr/bin/chromium';
  if (opts.netns) {
    executablePath = path.join(dir, 'chromium-in-netns');
    fs.writeFileSync(executablePath, `#!/bin/sh\nexec ip netns exec ${opts.netns} /usr/bin/chromium "$@"\n`, {
      mode: 0o755,
    });
  }
  const tone = path.join(dir, 'tone-440.wav');
  ffmpegLavfi('sine=frequency=440:sample_rate=48000:duration=10', ['-ac', '1', tone]);
  const browser = await chromium.launch({
    executablePath,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--use-fake-device-for-media-stream',
      '--use-fake-ui-for-media-stream',
      `--use-file-for-fake-audio-capture=${tone}`,
      // A camera of one known colour instead of the moving test pattern, for content checks.
      ...(opts.cameraY4m ? [`--use-file-for-fake-video-capture=${opts.cameraY4m}`] : []),
      '--autoplay-policy=no-user-gesture-required',
      '--disable-background-networking',
      '--disable-gpu',
      '--no-first-run',
      '--disable-component-update',
      '--disable-sync',
      ...(opts.secureOrigin ? [`--unsafely-treat-insecure-origin-as-secure=${opts.secureOrigin}`] : []),
    ],
  });
  browser.on('disconnected', () => fs.rmSync(dir, { recursive: true, force: true }));
  return browser;
}

/** A page in its own context (own cookies and storage), as two people on two machines. */
export async function newPage(browser: Browser): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  const page = await context.newPage();
  // Browser-side errors end up in the test output instead of vanishing.
  page.on('pageerror', (err) => process.stderr.write(`[page error] ${err.message}\n`));
  return { context, page };
}

/** What the join page reports through `window.__mcu.stats()` (see public/src/join.ts). */
export interface PageStats {
  state: string;
  participantId: string | null;
  framesDecoded: number;
  frameWidth: number;
  frameHeight: number;
  audioLevel: number;
  audioEnergy: number;
  connectionState: string;
  /** The camera width the page sends now (public/src/uplink.ts), 0 before it sends. */
  sendWidth: number;
  /** The server's last uplink-quality for this page. */
  uplink: { state: 'good' | 'weak'; kbps: number; fps: number; width: number; lossPct: number } | null;
}

export function pageStats(page: Page): Promise<PageStats> {
  return page.evaluate(() => (window as unknown as { __mcu: { stats(): Promise<PageStats> } }).__mcu.stats());
}

/** Polls the page's stats until `cond` holds; the error names the last stats seen. */
export async function waitForStats(
  page: Page,
  cond: (s: PageStats) => boolean,
  what: string,
  timeoutMs = 60000,
): Promise<PageStats> {
  const deadline = Date.now() + timeoutMs;
  let last: PageStats | null = null;
  while (Date.now() < deadline) {
    last = await pageStats(page);
    if (cond(last)) return last;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}; last stats: ${JSON.stringify(last)}`);
}

/** Opens a join link and presses Join, as a person following an invitation would. */
export async function joinByLink(
  page: Page,
  serverUrl: string,
  roomId: string,
  token: string,
  profile = 'standard',
) {
  await page.goto(
    `${serverUrl}/?room=${encodeURIComponent(roomId)}#token=${encodeURIComponent(token)}&profile=${profile}`,
  );
  await page.getByRole('button', { name: 'Join' }).click();
  return waitForStats(
    page,
    (s) => s.state === 'connected' && s.framesDecoded > 0,
    'the call to connect and video to arrive',
  );
}
