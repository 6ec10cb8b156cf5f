import * as ndc from 'node-datachannel';
import { random32 } from './rtp-packet';
import type { ChosenCodec, MediaKind, SdpDirection, VideoCodecName } from './sdp';

/** Our payload types when the server writes the offer (the remote's are used when it does). */
export const OFFER_PAYLOAD_TYPES = {
  H264: { pt: 96, rtx: 97 },
  VP8: { pt: 98, rtx: 99 },
  opus: { pt: 111 },
} as const;

/** The only H.264 we produce: constrained baseline 3.1, packetization-mode 1. */
export const H264_FMTP = 'profile-level-id=42e01f;packetization-mode=1;level-asymmetry-allowed=1';
export const OPUS_FMTP = 'minptime=10;useinbandfec=1';

const NDC_DIRECTION: Record<SdpDirection, ndc.Direction> = {
  sendrecv: 'SendRecv',
  sendonly: 'SendOnly',
  recvonly: 'RecvOnly',
  inactive: 'Inactive',
};

export const sends = (d: SdpDirection) => d === 'sendrecv' || d === 'sendonly';
export const receives = (d: SdpDirection) => d === 'sendrecv' || d === 'recvonly';

/** Our SSRCs on one m-line (used when we send on it). */
export interface LocalSsrcs {
  media: number;
  rtx: number;
}

export function newLocalSsrcs(): LocalSsrcs {
  return { media: random32(), rtx: random32() };
}

/**
 * The libdatachannel description of one m-line of an answer: exactly the chosen codec (with
 * the remote's payload type and fmtp) and its RTX, our SSRCs if we send. libdatachannel adds
 * `nack`, `nack pli` and `goog-remb` feedback to video codecs and nothing else.
 */
export function answerDescription(
  kind: MediaKind,
  mid: string,
  direction: SdpDirection,
  chosen: ChosenCodec,
  ssrcs: LocalSsrcs,
  cname: string,
  streamId: string,
): ndc.Video | ndc.Audio {
  const pt = chosen.codec.payloadType;
  if (kind === 'video') {
    const v = new ndc.Video(mid, NDC_DIRECTION[direction]);
    if (chosen.name === 'H264') v.addH264Codec(pt, chosen.codec.fmtp || H264_FMTP);
    else v.addVP8Codec(pt);
    if (chosen.rtxPayloadType !== null) v.addRTXCodec(chosen.rtxPayloadType, pt, 90000);
    if (sends(direction))
      addSsrcs(v, ssrcs, chosen.rtxPayloadType !== null, cname, streamId, `${streamId}-video`);
    return v;
  }
  const a = new ndc.Audio(mid, NDC_DIRECTION[direction]);
  a.addOpusCodec(pt, chosen.codec.fmtp || OPUS_FMTP);
  if (sends(direction)) addSsrcs(a, ssrcs, false, cname, streamId, `${streamId}-audio`);
  return a;
}

/**
 * An m-line we decline (no codec we can handle, or a second audio/video m-line): inactive, with
 * the remote's first codec so the SDP stays well-formed.
 */
export function declinedDescription(
  kind: string,
  mid: string,
  pt: number,
  name: string,
  clockRate: number,
): ndc.Video | ndc.Audio {
  if (kind === 'video') {
    const v = new ndc.Video(mid, 'Inactive');
    v.addVideoCodec(pt, `${name}/${clockRate}`);
    return v;
  }
  const a = new ndc.Audio(mid, 'Inactive');
  a.addAudioCodec(pt, `${name}/${clockRate}`);
  return a;
}

/** The description of one m-line of an offer we write: every codec we support, in `codecs` order. */
export function offerDescription(
  kind: MediaKind,
  mid: string,
  direction: SdpDirection,
  codecs: readonly VideoCodecName[],
  ssrcs: LocalSsrcs,
  cname: string,
  streamId: string,
): ndc.Video | ndc.Audio {
  if (kind === 'video') {
    const v = new ndc.Video(mid, NDC_DIRECTION[direction]);
    for (const c of codecs) {
      const { pt, rtx } = OFFER_PAYLOAD_TYPES[c];
      if (c === 'H264') v.addH264Codec(pt, H264_FMTP);
      else v.addVP8Codec(pt);
      v.addRTXCodec(rtx, pt, 90000);
    }
    if (sends(direction)) addSsrcs(v, ssrcs, true, cname, streamId, `${streamId}-video`);
    return v;
  }
  const a = new ndc.Audio(mid, NDC_DIRECTION[direction]);
  a.addOpusCodec(OFFER_PAYLOAD_TYPES.opus.pt, OPUS_FMTP);
  if (sends(direction)) addSsrcs(a, ssrcs, false, cname, streamId, `${streamId}-audio`);
  return a;
}

function addSsrcs(
  d: ndc.Video | ndc.Audio,
  ssrcs: LocalSsrcs,
  withRtx: boolean,
  cname: string,
  streamId: string,
  trackId: string,
): void {
  d.addSSRC(ssrcs.media, cname, streamId, trackId);
  if (!withRtx) return;
  d.parseSdpLine(`a=ssrc-group:FID ${ssrcs.media} ${ssrcs.rtx}`);
  d.addSSRC(ssrcs.rtx, cname, streamId, trackId);
}
