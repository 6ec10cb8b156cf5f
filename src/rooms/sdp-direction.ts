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
