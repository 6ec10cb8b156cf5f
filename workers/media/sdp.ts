import { InvalidSdpError, PayloadTooLargeError } from '../kernel/errors';

/**
 * Checks that a client's SDP is plausibly an SDP before libwebrtc sees it: libwebrtc's own
 * parse errors are terse, and an oversized blob should be refused before any parsing.
 */
export function validateSdp(sdp: unknown, maxBytes: number): string {
  if (typeof sdp !== 'string' || sdp.length === 0)
    throw new InvalidSdpError('sdp must be a non-empty string');
  if (Buffer.byteLength(sdp) > maxBytes) {
    throw new PayloadTooLargeError(`sdp is larger than ${maxBytes} bytes`);
  }
  if (!sdp.startsWith('v=0')) throw new InvalidSdpError('sdp must start with "v=0"');
  if (!/\r?\nm=(audio|video) /.test(sdp))
    throw new InvalidSdpError('sdp has no audio or video media section');
  return sdp;
}

/**
 * Caps what this side sends in the video section by writing bandwidth lines into the *remote*
 * description: libwebrtc takes the remote b=AS/b=TIAS as the ceiling for its own encoder,
 * and congestion control (transport-cc) adapts below it. RTCRtpSender.setParameters with
 * maxBitrate throws InvalidStateError in @roamhq/wrtc 0.10 (see docs/media-engine.md).
 */
export function withVideoBandwidth(sdp: string, kbps: number): string {
  const eol = sdp.includes('\r\n') ? '\r\n' : '\n';
  const lines = sdp.split(/\r?\n/);
  const out: string[] = [];
  let inVideo = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.startsWith('m=')) inVideo = line.startsWith('m=video');
    if (inVideo && (line.startsWith('b=AS:') || line.startsWith('b=TIAS:'))) continue;
    out.push(line);
    // b= lines go after c= (RFC 4566 order: m, i, c, b, ...).
    if (inVideo && line.startsWith('c=')) {
      out.push(`b=AS:${kbps}`, `b=TIAS:${kbps * 1000}`);
    }
  }
  return out.join(eol);
}
