/**
 * Whether an offer has something the media worker can serve: Opus audio, or VP8/VP9/AV1 video
 * (wrtc), or H.264 constrained baseline with packetization-mode 1 (the RTP-level path).
 */
export function sdpHasUsableCodec(sdp: string): boolean {
  for (const s of sdp.split(/\r?\nm=/).slice(1)) {
    if (/^audio [1-9]/.test(s) && /\na=rtpmap:\d+ opus\/48000/i.test(s)) return true;
    if (!/^video [1-9]/.test(s)) continue;
    if (/\na=rtpmap:\d+ (VP8|VP9|AV1)\/90000/i.test(s)) return true;
    for (const m of s.matchAll(/\na=rtpmap:(\d+) H264\/90000/gi)) {
      const fmtp = new RegExp(`\\na=fmtp:${m[1]} ([^\\r\\n]*)`).exec(s)?.[1] ?? '';
      if (/packetization-mode=1/.test(fmtp) && /profile-level-id=42[0-9a-f]{4}/i.test(fmtp)) return true;
    }
  }
  return false;
}

/**
 * Whether an SDP sends media: some audio/video section that is not recvonly/inactive and
 * carries a source (a=msid or a=ssrc). A section that could send but has no track attached (a
 * default sendrecv transceiver) does not count, so viewers using default transceivers still work.
 */
export function sdpSendsMedia(sdp: string): boolean {
  const sections = sdp.split(/\r?\nm=/).slice(1);
  for (const s of sections) {
    if (!/^(audio|video) /.test(s)) continue;
    const direction = /\r?\na=(sendrecv|sendonly|recvonly|inactive)\b/.exec(s)?.[1] ?? 'sendrecv';
    if (direction !== 'sendrecv' && direction !== 'sendonly') continue;
    if (/\r?\na=(msid|ssrc):/.test(s)) return true;
  }
  return false;
}
