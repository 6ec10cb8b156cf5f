/**
 * Signalling for a Chromium page that receives the room on a receive-only peer connection kept
 * in `window.pc` (the lip-sync and adaptive-downlink benchmarks): this process holds the
 * socket.io connection, joins, carries the page's offer (its candidates in it) to the server,
 * and the answer and the server's candidates back. The page-side set-up stays in each caller:
 * a function handed to `page.evaluate` runs in the page and cannot share this module's code.
 */
import type { Page } from 'playwright-core';
import type { Socket } from 'socket.io-client';
import type { JoinedPayload } from '../workers/protocol/signaling';
import { call } from '../test/helpers/signal';

export async function connectReceiveOnly(
  page: Page,
  socket: Socket,
  join: { roomId: string; profile: string; token: string },
  makeOffer: () => Promise<string>,
): Promise<JoinedPayload> {
  const joined = await call<JoinedPayload>(socket, 'join', join);
  socket.on('ice', (d: { candidate: RTCIceCandidateInit | null }) => {
    if (d.candidate)
      void page
        .evaluate((c) => (window as unknown as { pc: RTCPeerConnection }).pc.addIceCandidate(c), d.candidate)
        .catch(() => undefined);
  });
  const offer = await makeOffer();
  const answer = await call<{ sdp: string }>(socket, 'offer', { sdp: offer });
  await page.evaluate(
    (sdp) =>
      (window as unknown as { pc: RTCPeerConnection }).pc.setRemoteDescription({ type: 'answer', sdp }),
    answer.sdp,
  );
  return joined;
}
