/**
 * What all RTP peers of a worker share: libdatachannel itself (one thread pool for ICE, DTLS
 * and SRTP, whatever the number of peers: measured in docs/rtp-stack.md), its log routed to our
 * Logger, and one 20 ms ticker for reorder-buffer timeouts, NACK retries and RTCP reports.
 */
import * as fs from 'node:fs';
import * as ndc from 'node-datachannel';
import { Logger } from './log';

export interface Tickable {
  tick(nowMs: number): void;
  close(): void;
}

const TICK_MS = 20;
const peers = new Set<Tickable>();
let timer: NodeJS.Timeout | null = null;
let logInstalled = false;

function installLog(): void {
  if (logInstalled) return;
  logInstalled = true;
  const log = new Logger('libdatachannel');
  ndc.initLogger('Warning', (level, message) => {
    if (level === 'Error' || level === 'Fatal') log.error(message);
    else log.warn(message);
  });
}

export function registerPeer(peer: Tickable): void {
  installLog();
  peers.add(peer);
  if (!timer) {
    timer = setInterval(() => {
      const now = performance.now();
      for (const p of peers) p.tick(now);
    }, TICK_MS);
  }
}

export function unregisterPeer(peer: Tickable): void {
  peers.delete(peer);
  if (peers.size === 0 && timer) {
    clearInterval(timer);
    timer = null;
  }
}

/**
 * Closes every peer and stops the ticker. libdatachannel's threads stay: a process that used
 * RTP peers ends with process.exit() (as the media worker does). node-datachannel's own
 * `cleanup()` is deliberately not called: after sessions with Chromium it died with SIGSEGV in
 * rtc::Track::close() (TrackWrapper::CloseAll) in 2 of 4 test runs here, never without it.
 */
export function shutdownRtpStack(): void {
  for (const p of [...peers]) p.close();
}

export interface RtpStackStats {
  peers: number;
  /** OS threads of this process (libdatachannel's pool is shared, not per peer). */
  threads: number;
  rssBytes: number;
}

export function rtpStackStats(): RtpStackStats {
  let threads = 0;
  try {
    threads = Number(/Threads:\s+(\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0);
  } catch {
    threads = 0; // not Linux
  }
  return { peers: peers.size, threads, rssBytes: process.memoryUsage().rss };
}
