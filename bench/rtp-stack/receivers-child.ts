/**
 * The receiving side of the send benchmark, in its own process so that the sender's CPU is
 * measured alone: hosts K receivers of one stack, answers offers from the parent and reports
 * when each frame's last packet arrived (wall clock, ms with fractions).
 */
import { createReceiver, parseStackName, shutdownStacks, type BenchReceiver } from './stacks';

export type ToChild = { type: 'offer'; id: number; sdp: string } | { type: 'close' };
export type FromChild =
  | { type: 'answer'; id: number; sdp: string }
  | { type: 'frames'; arrivals: Array<[id: number, rtpTimestamp: number, atMs: number]> };

const stack = parseStackName(process.argv[2] ?? '');
const receivers: BenchReceiver[] = [];
let pending: Array<[number, number, number]> = [];
const send = (m: FromChild) => process.send?.(m);

const flush = setInterval(() => {
  if (pending.length === 0) return;
  send({ type: 'frames', arrivals: pending });
  pending = [];
}, 250);

process.on('message', (m: ToChild) => {
  if (m.type === 'offer') {
    const r = createReceiver(stack);
    receivers.push(r);
    r.onFrame = (ts) => pending.push([m.id, ts, performance.timeOrigin + performance.now()]);
    void r.answer(m.sdp).then((sdp) => send({ type: 'answer', id: m.id, sdp }));
  } else {
    clearInterval(flush);
    receivers.forEach((r) => r.close());
    setTimeout(() => {
      shutdownStacks();
      process.exit(0);
    }, 200);
  }
});
process.on('disconnect', () => process.exit(0));
