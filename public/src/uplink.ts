/**
 * What the page sends of its camera (issue #15 item 3): never more than the tile the server can
 * show it in on the profile it is served, and half that while the server says its uplink is weak.
 * The browser's own congestion control (fed by the server's transport feedback) still sets the
 * bitrate below these ceilings; this decides the picture size, so a narrow uplink carries a
 * smaller picture at a steady frame rate instead of a large one that stutters, and the audio
 * keeps its share.
 */
import { OUTPUT_PROFILES, type DownlinkProfile } from '../../workers/protocol/media';

/** The smallest picture worth sending (a thumbnail tile). */
const MIN_WIDTH = 160;
/** Audio kept out of what the video may use, kbps. */
const AUDIO_KBPS = 40;

export interface SendLimits {
  /** For RTCRtpEncodingParameters.scaleResolutionDownBy (≥ 1). */
  scaleResolutionDownBy: number;
  /** For RTCRtpEncodingParameters.maxBitrate, bits per second. */
  maxBitrate: number;
  /** The width that scale gives (for the page's status line). */
  width: number;
}

/**
 * `trackWidth`: the camera's width now; `served`: the downlink profile the server serves this
 * page (`audio`, the data saver, sends like `low`); `weakUplink`: the server's last verdict;
 * `receivedKbps`: what the server said arrives (null: unknown).
 */
export function sendLimits(
  trackWidth: number,
  served: DownlinkProfile,
  weakUplink: boolean,
  receivedKbps: number | null,
): SendLimits {
  const profile = OUTPUT_PROFILES[served === 'audio' ? 'low' : served];
  let width = Math.min(trackWidth, profile.width);
  // A profile's video ceiling plus headroom: the camera is one tile of the composite, but an
  // active speaker's tile can fill the picture.
  let maxKbps = profile.maxVideoKbps;
  if (weakUplink) {
    width = Math.max(MIN_WIDTH, Math.round(width / 2));
    // Half the ceiling, and not more than what got through: the link showed that much.
    maxKbps = Math.max(
      60,
      Math.min(maxKbps / 2, receivedKbps !== null ? receivedKbps - AUDIO_KBPS : maxKbps),
    );
  }
  width = Math.min(width, trackWidth);
  const scale = trackWidth > 0 ? Math.max(1, trackWidth / width) : 1;
  return {
    scaleResolutionDownBy: Math.round(scale * 1000) / 1000,
    maxBitrate: Math.round(maxKbps * 1000),
    width: trackWidth > 0 ? Math.round(trackWidth / scale) : 0,
  };
}
