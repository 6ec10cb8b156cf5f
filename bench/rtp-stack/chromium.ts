/**
 * Debian's Chromium for the benchmark: a fake camera from a .y4m clip and a 440 Hz fake
 * microphone, a page that sends them H.264-only (setCodecPreferences) or receives.
 */
import { execFileSync } from 'node:child_process';
import * as http from 'node:http';
import * as path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

/**
 * A new page on an empty document served from 127.0.0.1: getUserMedia needs a secure context,
 * which about:blank is not and http://127.0.0.1 is.
 */
export async function blankPage(browser: Browser): Promise<Page> {
  const server = http.createServer((_req, res) => res.end('<!doctype html><title>rtp</title><body></body>'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${port}/`);
  server.close();
  return page;
}

export async function launch(dir: string, y4m: string): Promise<Browser> {
  const tone = path.join(dir, 'tone-440.wav');
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
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--use-fake-device-for-media-stream',
      '--use-fake-ui-for-media-stream',
      `--use-file-for-fake-video-capture=${y4m}`,
      `--use-file-for-fake-audio-capture=${tone}`,
      '--autoplay-policy=no-user-gesture-required',
      '--disable-features=WebRtcHideLocalIpsWithMdns',
      '--disable-gpu',
    ],
  });
}

/** Creates an H.264-only sendonly offer (camera + microphone) in the page; returns its SDP. */
export async function publisherOffer(page: Page): Promise<string> {
  return page.evaluate(async () => {
    const stream = await navigator.mediaDevices.getUserMedia({
      video: { width: 640, height: 360, frameRate: 15 },
      audio: true,
    });
    const pc = new RTCPeerConnection();
    (window as unknown as { pc: RTCPeerConnection }).pc = pc;
    pc.addTransceiver(stream.getAudioTracks()[0], { direction: 'sendonly' });
    const video = pc.addTransceiver(stream.getVideoTracks()[0], { direction: 'sendonly' });
    const codecs = (RTCRtpSender.getCapabilities('video')?.codecs ?? []).filter(
      (c) =>
        c.mimeType === 'video/H264' &&
        /42e01f/.test(c.sdpFmtpLine ?? '') &&
        /packetization-mode=1/.test(c.sdpFmtpLine ?? ''),
    );
    video.setCodecPreferences(codecs);
    const params = video.sender.getParameters();
    params.encodings[0].maxBitrate = 600_000;
    await video.sender.setParameters(params);
    await pc.setLocalDescription(await pc.createOffer());
    await new Promise<void>((r) =>
      pc.iceGatheringState === 'complete'
        ? r()
        : pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && r()),
    );
    return pc.localDescription?.sdp ?? '';
  });
}

/** Answers a server offer in the page (receive only); returns the answer SDP. */
export async function viewerAnswer(page: Page, offer: string): Promise<string> {
  return page.evaluate(async (sdp) => {
    const pc = new RTCPeerConnection();
    (window as unknown as { pc: RTCPeerConnection }).pc = pc;
    await pc.setRemoteDescription({ type: 'offer', sdp });
    await pc.setLocalDescription(await pc.createAnswer());
    await new Promise<void>((r) =>
      pc.iceGatheringState === 'complete'
        ? r()
        : pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && r()),
    );
    return pc.localDescription?.sdp ?? '';
  }, offer);
}

export async function setAnswer(page: Page, sdp: string): Promise<void> {
  await page.evaluate(async (answer) => {
    await (window as unknown as { pc: RTCPeerConnection }).pc.setRemoteDescription({
      type: 'answer',
      sdp: answer,
    });
  }, sdp);
}

export interface RtpStatsSummary {
  framesDecoded: number;
  framesEncoded: number;
  bytesSent: number;
  bytesReceived: number;
  codec: string;
}

export async function rtpStats(page: Page): Promise<RtpStatsSummary> {
  return page.evaluate(async () => {
    const stats = await (window as unknown as { pc: RTCPeerConnection }).pc.getStats();
    const out = { framesDecoded: 0, framesEncoded: 0, bytesSent: 0, bytesReceived: 0, codec: '' };
    const codecs = new Map<string, string>();
    stats.forEach(
      (s: Record<string, unknown>) => s.type === 'codec' && codecs.set(String(s.id), String(s.mimeType)),
    );
    stats.forEach((s: Record<string, unknown>) => {
      if (s.kind !== 'video') return;
      if (s.type === 'inbound-rtp') {
        out.framesDecoded = Number(s.framesDecoded ?? 0);
        out.bytesReceived = Number(s.bytesReceived ?? 0);
        out.codec = codecs.get(String(s.codecId)) ?? '';
      } else if (s.type === 'outbound-rtp') {
        out.framesEncoded = Number(s.framesEncoded ?? 0);
        out.bytesSent = Number(s.bytesSent ?? 0);
        out.codec = codecs.get(String(s.codecId)) ?? '';
      }
    });
    return out;
  });
}
