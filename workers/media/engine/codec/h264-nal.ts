/**
 * H.264 Annex B helpers for the RTP side and the SDP: where NAL units are, their types, and the
 * profile-level-id an SPS announces (RFC 6184 5.8: profile_idc, constraint flags, level_idc).
 */

export const NAL_SLICE = 1;
export const NAL_IDR = 5;
export const NAL_SEI = 6;
export const NAL_SPS = 7;
export const NAL_PPS = 8;

export interface NalUnit {
  type: number;
  /** nal_ref_idc, 0..3 */
  refIdc: number;
  /** Offset of the NAL header byte (after the start code) in the buffer. */
  offset: number;
  length: number;
}

/**
 * The NAL units of an Annex B buffer, in order (allocates the result: for setup, tests and
 * diagnostics, not for a per-packet path).
 */
export function splitAnnexB(data: Uint8Array): NalUnit[] {
  const units: NalUnit[] = [];
  let start = -1;
  const push = (end: number): void => {
    // A 4-byte start code's leading zero, or trailing zero bytes, are not part of the NAL.
    while (end > start && data[end - 1] === 0) end--;
    if (end > start)
      units.push({
        type: data[start] & 0x1f,
        refIdc: (data[start] >> 5) & 3,
        offset: start,
        length: end - start,
      });
  };
  for (let i = 0; i + 2 < data.length;) {
    if (data[i] === 0 && data[i + 1] === 0 && data[i + 2] === 1) {
      if (start >= 0) push(i);
      i += 3;
      start = i;
    } else {
      i++;
    }
  }
  if (start >= 0 && start < data.length) push(data.length);
  return units;
}

export function nalTypes(data: Uint8Array): number[] {
  return splitAnnexB(data).map((u) => u.type);
}

export interface SpsProfile {
  profileIdc: number;
  /** constraint_set0..5 flags and reserved bits, as in profile-level-id's middle byte. */
  constraints: number;
  levelIdc: number;
  /** Six hex digits, e.g. "42c01f". */
  profileLevelId: string;
  /** profile_idc 66 with constraint_set1 (RFC 6184 Table 5: 42 x1xx0000). */
  constrainedBaseline: boolean;
}

/** The profile fields of the first SPS in an Annex B buffer, or null when there is none. */
export function spsProfile(data: Uint8Array): SpsProfile | null {
  const sps = splitAnnexB(data).find((u) => u.type === NAL_SPS);
  if (sps === undefined || sps.length < 4) return null;
  // The three bytes after the header cannot hold emulation prevention (profile_idc is never 0).
  const profileIdc = data[sps.offset + 1];
  const constraints = data[sps.offset + 2];
  const levelIdc = data[sps.offset + 3];
  const hex = (v: number): string => v.toString(16).padStart(2, '0');
  return {
    profileIdc,
    constraints,
    levelIdc,
    profileLevelId: hex(profileIdc) + hex(constraints) + hex(levelIdc),
    constrainedBaseline: profileIdc === 66 && (constraints & 0x40) !== 0,
  };
}

/** VP8 payload header (RFC 6386 9.1): bit 0 of the first byte is 0 on a key frame. */
export function isVp8Keyframe(frame: Uint8Array): boolean {
  return frame.length >= 3 && (frame[0] & 1) === 0;
}
