/**
 * What the RTP peer reads from a remote SDP (offer or answer) and how it picks codecs: per
 * m-line, the codecs with their payload types, fmtp and feedback, RTX pairings, SSRCs and the
 * direction. The local SDP is written by libdatachannel from the descriptions built in
 * rtp-peer.ts, with only the chosen codecs: what is not listed there (transport-cc feedback and
 * the transport-wide-cc header extension, FEC, RED, other codecs) is thereby declined.
 */
export type VideoCodecName = 'H264' | 'VP8';
export type MediaKind = 'audio' | 'video';
export type SdpDirection = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';

export interface SdpCodec {
  payloadType: number;
  /** Upper-case encoding name: H264, VP8, OPUS, RTX, ... */
  name: string;
  clockRate: number;
  channels: number;
  fmtp: string;
  feedback: string[];
}

export interface SdpMedia {
  kind: string;
  mid: string;
  /** 0: rejected m-line. */
  port: number;
  direction: SdpDirection;
  codecs: SdpCodec[];
  /** RTX payload type by the payload type it repairs (apt). */
  rtxFor: Map<number, number>;
  ssrcs: number[];
  /** [media SSRC, RTX SSRC] pairs from `a=ssrc-group:FID`. */
  fidGroups: Array<[number, number]>;
}

export class UnsupportedOfferError extends Error {
  override readonly name = 'UnsupportedOfferError';
}

const DIRECTIONS: readonly SdpDirection[] = ['sendrecv', 'sendonly', 'recvonly', 'inactive'];

export function parseSdp(sdp: string): SdpMedia[] {
  const out: SdpMedia[] = [];
  let sessionDirection: SdpDirection = 'sendrecv';
  let m: SdpMedia | null = null;
  for (const raw of sdp.split(/\r?\n/)) {
    const line = raw.trim();
    if (line.startsWith('m=')) {
      const [kind, port] = line.slice(2).split(' ');
      m = {
        kind,
        mid: String(out.length),
        port: Number(port),
        direction: sessionDirection,
        codecs: [],
        rtxFor: new Map(),
        ssrcs: [],
        fidGroups: [],
      };
      const pts = line.split(' ').slice(3).map(Number);
      for (const pt of pts)
        if (Number.isInteger(pt))
          m.codecs.push({ payloadType: pt, name: '', clockRate: 0, channels: 1, fmtp: '', feedback: [] });
      out.push(m);
      continue;
    }
    const d = DIRECTIONS.find((x) => line === `a=${x}`);
    if (d) {
      if (m) m.direction = d;
      else sessionDirection = d;
      continue;
    }
    if (!m) continue;
    let r: RegExpExecArray | null;
    if ((r = /^a=mid:(\S+)/.exec(line))) m.mid = r[1];
    else if ((r = /^a=rtpmap:(\d+) ([^/]+)\/(\d+)(?:\/(\d+))?/.exec(line))) {
      const c = codec(m, Number(r[1]));
      if (c) {
        c.name = r[2].toUpperCase();
        c.clockRate = Number(r[3]);
        c.channels = r[4] ? Number(r[4]) : 1;
      }
    } else if ((r = /^a=fmtp:(\d+) (.*)$/.exec(line))) {
      const c = codec(m, Number(r[1]));
      if (c) c.fmtp = r[2];
    } else if ((r = /^a=rtcp-fb:(\d+) (.*)$/.exec(line))) {
      const c = codec(m, Number(r[1]));
      if (c) c.feedback.push(r[2]);
    } else if ((r = /^a=ssrc:(\d+) /.exec(line))) {
      const ssrc = Number(r[1]);
      if (!m.ssrcs.includes(ssrc)) m.ssrcs.push(ssrc);
    } else if ((r = /^a=ssrc-group:FID (\d+) (\d+)/.exec(line))) {
      m.fidGroups.push([Number(r[1]), Number(r[2])]);
    }
  }
  for (const media of out)
    for (const c of media.codecs) {
      const apt = /(?:^|;)\s*apt=(\d+)/.exec(c.fmtp);
      if (c.name === 'RTX' && apt) media.rtxFor.set(Number(apt[1]), c.payloadType);
    }
  return out;
}

function codec(m: SdpMedia, pt: number): SdpCodec | undefined {
  return m.codecs.find((c) => c.payloadType === pt);
}

function fmtpParam(fmtp: string, name: string): string | null {
  const r = new RegExp(`(?:^|;)\\s*${name}=([^;\\s]+)`, 'i').exec(fmtp);
  return r ? r[1] : null;
}

/**
 * H.264 we can send and receive: packetization-mode 1 and a Baseline-family profile
 * (profile_idc 0x42: what browsers' constrained baseline 42e01f and plain 42001f are). Our
 * encoder produces constrained baseline, which any Baseline decoder takes.
 */
export function isUsableH264(c: SdpCodec): boolean {
  if (c.name !== 'H264' || c.clockRate !== 90000) return false;
  if (fmtpParam(c.fmtp, 'packetization-mode') !== '1') return false;
  const profile = fmtpParam(c.fmtp, 'profile-level-id') ?? '42001f';
  return /^42[0-9a-f]{4}$/i.test(profile);
}

function h264Rank(c: SdpCodec): number {
  const profile = (fmtpParam(c.fmtp, 'profile-level-id') ?? '').toLowerCase();
  return profile.startsWith('42e0') ? 0 : 1;
}

export interface ChosenCodec {
  codec: SdpCodec;
  /** Our name for it: H264, VP8 or opus. */
  name: VideoCodecName | 'opus';
  rtxPayloadType: number | null;
}

/**
 * The video codec to use on an m-line: the first in `preference` that the remote lists (for
 * H.264, constrained baseline first), or, with no preference, the first the remote lists that we
 * support (the remote's order, which setCodecPreferences controls).
 */
export function chooseVideoCodec(
  m: SdpMedia,
  preference: readonly VideoCodecName[] | null,
): ChosenCodec | null {
  const usable = m.codecs.filter((c) => isUsableH264(c) || (c.name === 'VP8' && c.clockRate === 90000));
  if (usable.length === 0) return null;
  const nameOf = (c: SdpCodec): VideoCodecName => (c.name === 'VP8' ? 'VP8' : 'H264');
  let pick: SdpCodec | undefined;
  if (preference) {
    for (const want of preference) {
      pick = usable.filter((c) => nameOf(c) === want).sort((a, b) => h264Rank(a) - h264Rank(b))[0];
      if (pick) break;
    }
  } else {
    const first = nameOf(usable[0]);
    pick = usable.filter((c) => nameOf(c) === first).sort((a, b) => h264Rank(a) - h264Rank(b))[0];
  }
  if (!pick) return null;
  return { codec: pick, name: nameOf(pick), rtxPayloadType: m.rtxFor.get(pick.payloadType) ?? null };
}

export function chooseAudioCodec(m: SdpMedia): ChosenCodec | null {
  const opus = m.codecs.find((c) => c.name === 'OPUS' && c.clockRate === 48000);
  return opus ? { codec: opus, name: 'opus', rtxPayloadType: null } : null;
}

/** The direction we answer with, given the remote's and what we are willing to do. */
export function answerDirection(remote: SdpDirection, send: boolean, receive: boolean): SdpDirection {
  const weSend = send && (remote === 'sendrecv' || remote === 'recvonly');
  const weReceive = receive && (remote === 'sendrecv' || remote === 'sendonly');
  return weSend && weReceive ? 'sendrecv' : weSend ? 'sendonly' : weReceive ? 'recvonly' : 'inactive';
}

/** The remote's media SSRC and RTX SSRC on an m-line, when it signalled them. */
export function remoteSsrcs(m: SdpMedia): { media: number | null; rtx: number | null } {
  if (m.fidGroups.length > 0) return { media: m.fidGroups[0][0], rtx: m.fidGroups[0][1] };
  return { media: m.ssrcs[0] ?? null, rtx: null };
}

/** Whether the remote accepts `feedback` (e.g. "nack", "nack pli", "ccm fir") for a codec. */
export function hasFeedback(c: SdpCodec, feedback: string): boolean {
  return c.feedback.includes(feedback);
}
