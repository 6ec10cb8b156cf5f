import type { RoomStats } from '../protocol/media';
import type { RoomMember } from './room-member';
import { RtpParticipant } from './rtp-participant';
import { OPUS_FRAME_TICKS, SharedMixEncoder } from './shared-mix-encoder';

/**
 * Sends every listener its 10 ms of mix each tick. wrtc members hand theirs to libwebrtc (one
 * encoder each). RTP-level members are framed on the room's 20 ms grid, and those who have
 * not spoken for a while share the one encode of the full mix (SharedMixEncoder): in a room
 * where a few speak and many listen, the Opus encodes are one per speaker plus one.
 */
export class AudioDownlinks {
  private half = 0;
  private shared: SharedMixEncoder | null = null;
  private sharedUnavailable = false;
  private own = 0;
  private sharedListeners = 0;
  private last: RoomStats['audioEncodes'] = { shared: 0, own: 0, sharedListeners: 0 };

  /** After the mixer wrote every listener's audioOutput; contributes[i]: i's voice is in the mix. */
  send(listeners: readonly RoomMember[], n: number, contributes: Uint8Array, mixAll: Int16Array): void {
    const half = this.half;
    const shared = this.sharedEncoder(listeners, n);
    shared?.push(mixAll, half);
    for (let i = 0; i < n; i++) {
      const p = listeners[i];
      if (!(p instanceof RtpParticipant)) {
        p.sendAudio();
        continue;
      }
      const sent = p.sendAudioTick(half, contributes[i] !== 0, shared);
      if (sent === 'own') this.own++;
      else if (sent === 'shared') this.sharedListeners++;
    }
    this.half = (half + 1) % OPUS_FRAME_TICKS;
    if (this.half === 0) {
      this.last = { shared: shared?.used ? 1 : 0, own: this.own, sharedListeners: this.sharedListeners };
      this.own = 0;
      this.sharedListeners = 0;
    }
  }

  /** The encodes of the last complete 20 ms frame (room stats). */
  stats(): RoomStats['audioEncodes'] {
    return { ...this.last };
  }

  close(): void {
    this.shared?.close();
    this.shared = null;
  }

  /** Exists while two or more RTP-level listeners could share it; null without the codec addon. */
  private sharedEncoder(listeners: readonly RoomMember[], n: number): SharedMixEncoder | null {
    let rtp = 0;
    for (let i = 0; i < n && rtp < 2; i++) if (listeners[i] instanceof RtpParticipant) rtp++;
    if (rtp < 2) {
      this.close();
      return null;
    }
    if (!this.shared && !this.sharedUnavailable) {
      this.shared = SharedMixEncoder.create();
      this.sharedUnavailable = this.shared === null;
    }
    return this.shared;
  }
}
