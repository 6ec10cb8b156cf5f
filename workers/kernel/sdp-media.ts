/**
 * Whether an offer lets the answerer send video back: some m=video section with a non-zero port
 * whose direction is sendrecv or recvonly. An offer without one is an audio-only participant:
 * the media worker composes and encodes no video for it, and admission control charges it the
 * audio-only cost. Used by both sides (control plane and media worker), hence the kernel.
 */
export function offerReceivesVideo(sdp: string): boolean {
  for (const section of sdp.split(/\r?\nm=/).slice(1)) {
    const m = /^video (\d+) /.exec(section);
    if (!m || m[1] === '0') continue;
    const direction = /\r?\na=(sendrecv|sendonly|recvonly|inactive)\b/.exec(section)?.[1] ?? 'sendrecv';
    if (direction === 'sendrecv' || direction === 'recvonly') return true;
  }
  return false;
}
