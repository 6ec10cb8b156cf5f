/**
 * Memory and threads per RtpPeer: N connected pairs in this process (loopback), RSS and OS
 * thread count before and after, after a full GC.
 *   node --expose-gc dist/bench/rtp-stack/peer-footprint.js [pairs=20]
 */
import { RtpPeer, rtpStackStats, shutdownRtpStack } from '../../workers/media/rtp';
import { setLogSink } from '../../workers/media/rtp/log';

const PAIRS = Number(process.argv[2] ?? 20);

function snapshot(): { rssMb: number; heapMb: number; threads: number } {
  (globalThis as { gc?: () => void }).gc?.();
  const s = rtpStackStats();
  return {
    rssMb: s.rssBytes / 2 ** 20,
    heapMb: process.memoryUsage().heapUsed / 2 ** 20,
    threads: s.threads,
  };
}

async function connectedPair(i: number): Promise<RtpPeer[]> {
  const a = new RtpPeer({ id: `a${i}`, bindAddress: '127.0.0.1', videoCodecs: ['H264'] });
  const b = new RtpPeer({ id: `b${i}`, bindAddress: '127.0.0.1' });
  const offer = await a.createOffer({ audio: 'sendrecv', video: 'sendrecv', waitForCandidates: true });
  a.acceptAnswer(await b.acceptOffer(offer, { waitForCandidates: true }));
  await new Promise<void>((resolve) => {
    const check = () =>
      a.connectionState === 'connected' && b.connectionState === 'connected'
        ? resolve()
        : setTimeout(check, 10);
    check();
  });
  return [a, b];
}

async function main(): Promise<void> {
  setLogSink(() => {});
  // One pair first, so libdatachannel's thread pool and our ticker exist in the baseline.
  const peers = await connectedPair(-1);
  const before = snapshot();
  for (let i = 0; i < PAIRS; i++) peers.push(...(await connectedPair(i)));
  await new Promise((r) => setTimeout(r, 1000));
  const after = snapshot();
  const n = PAIRS * 2;
  const out = {
    peers: n,
    rssMbPerPeer: (after.rssMb - before.rssMb) / n,
    heapMbPerPeer: (after.heapMb - before.heapMb) / n,
    threadsBefore: before.threads,
    threadsAfter: after.threads,
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
  shutdownRtpStack();
  process.exit(0);
}

void main();
