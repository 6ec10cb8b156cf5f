/**
 * Debian's Chromium for the RTP tests (the flags of test/e2e's launcher, plus a fake camera
 * of one colour): a page served from 127.0.0.1 (getUserMedia needs a secure context) that
 * publishes or views through one RTCPeerConnection; see page.html.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { RtpPeer } from '../../../workers/media/rtp';

export interface RtpTestPage {
  page: Page;
  close(): Promise<void>;
}

export interface InboundStats {
  codec?: string;
  framesDecoded?: number;
  packetsLost?: number;
  nackCount?: number;
  pliCount?: number;
  firCount?: number;
  retransmittedPacketsReceived?: number;
  packetsReceived?: number;
  framesEncoded?: number;
  framesDropped?: number;
}

export async function openTestPage(dir: string, cameraY4m: string | null): Promise<RtpTestPage> {
  const tone = path.join(dir, 'mic-440.wav');
  if (!fs.existsSync(tone))
    execFileSync('ffmpeg', [
      '-v',
      'error',
      '-y',
      '-f',
      'lavfi',
      '-i',
      'sine=frequency=440:sample_rate=48000:duration=10',
      '-ac',
      '1',
      tone,
    ]);
  const browser: Browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--use-fake-device-for-media-stream',
      '--use-fake-ui-for-media-stream',
      ...(cameraY4m ? [`--use-file-for-fake-video-capture=${cameraY4m}`] : []),
      `--use-file-for-fake-audio-capture=${tone}`,
      '--autoplay-policy=no-user-gesture-required',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
    ],
  });
  const html = fs.readFileSync(path.join(__dirname, 'page.html'));
  const server = http.createServer((_req, res) =>
    res.writeHead(200, { 'content-type': 'text/html' }).end(html),
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const page = await browser.newPage();
  page.on('pageerror', (err) => process.stderr.write(`[page error] ${err.message}\n`));
  await page.goto(`http://127.0.0.1:${port}/`);
  server.close();
  return { page, close: () => browser.close() };
}

type PageApi = {
  publish(codec: string, trickle?: boolean): Promise<string>;
  gathered(): Promise<void>;
  view(offer: string): Promise<string>;
  play(codec: string): Promise<string>;
  cells(): number[][];
  levels(freqs: number[]): Record<string, number> | null;
  setAnswer(sdp: string): Promise<void>;
  addCandidate(candidate: string, mid: string): Promise<void>;
  takeCandidates(): Array<{ candidate: string; sdpMid: string }>;
  connectionState(): string;
  colour(): number[] | null;
  tone(): { hz: number; db: number } | null;
  stats(): Promise<{ video: InboundStats; audio: InboundStats }>;
};

/** Calls `window.rtpTest[name](...args)` in the page. */
export function call<K extends keyof PageApi>(
  page: Page,
  name: K,
  ...args: Parameters<PageApi[K]>
): Promise<Awaited<ReturnType<PageApi[K]>>> {
  return page.evaluate(
    ([n, a]) => {
      const api = (window as unknown as { rtpTest: Record<string, (...x: unknown[]) => unknown> }).rtpTest;
      return api[n as string](...(a as unknown[]));
    },
    [name, args] as const,
  ) as Promise<Awaited<ReturnType<PageApi[K]>>>;
}

/** Polls `read` until `cond` holds; the error names the last value seen. */
export async function waitFor<T>(
  read: () => Promise<T>,
  cond: (v: T) => boolean,
  what: string,
  timeoutMs = 20000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await read();
    if (cond(last)) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)}`);
}

/** Set-ups allowed when libdatachannel logs a failed DTLS handshake (and only then). */
const DTLS_ATTEMPTS = 3;

/**
 * An RtpPeer offers to the page's `view` and waits until connected. libdatachannel's DTLS
 * handshake with Chromium fails at once now and then when our RtpPeer is the offerer ("DTLS
 * alert: unknown CA", certificate verify failed; docs/rtp-stack.md, "Known issues": 3 of 5
 * set-ups beside two busy loops, both before and after 2026-12-06; the product's RtpPeers always
 * answer). The connection then goes to failed/closed and a caller negotiates again, as the
 * product's clients do: a new peer is set up after that logged failure, at most DTLS_ATTEMPTS
 * times; any other end fails at once with the log.
 */
export async function connectToView(
  page: Page,
  logLines: string[],
  newPeer: (attempt: number) => { peer: RtpPeer; offer: () => Promise<string> },
): Promise<RtpPeer> {
  for (let attempt = 1; ; attempt++) {
    logLines.length = 0;
    const { peer, offer } = newPeer(attempt);
    const answer = await call(page, 'view', await offer());
    peer.acceptAnswer(answer);
    const state = await waitFor(
      async () => peer.connectionState,
      (s) => s === 'connected' || s === 'failed' || s === 'closed',
      'the peer to connect',
    );
    if (state === 'connected') return peer;
    const dtls = logLines.some((l) => l.includes('DTLS handshake failed'));
    if (!dtls || attempt === DTLS_ATTEMPTS)
      throw new Error(`the peer ended ${state} (attempt ${attempt}):\n${logLines.join('\n')}`);
    process.stderr.write(`[rtp test] DTLS handshake failed on attempt ${attempt}; a new peer negotiates\n`);
    peer.close();
  }
}
