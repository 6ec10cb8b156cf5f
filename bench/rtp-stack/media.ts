/**
 * Test media for the RTP stack benchmark, made with the ffmpeg CLI: pre-encoded H.264 access
 * units (what the composite encoder would hand to every receiver) and a .y4m clip for Chromium's
 * fake camera.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { forEachAnnexBNal } from '../../workers/media/rtp/h264-packetizer';

/** 640x360@15 constrained-baseline H.264 at ≈ kbps, one access unit per array entry. */
export function encodeH264AccessUnits(dir: string, seconds: number, kbps: number): Uint8Array[] {
  const file = path.join(dir, `bench-${kbps}k.h264`);
  if (!fs.existsSync(file)) {
    execFileSync('ffmpeg', [
      '-v',
      'error',
      '-y',
      '-f',
      'lavfi',
      '-i',
      `testsrc2=s=640x360:r=15:d=${seconds}`,
      '-c:v',
      'libx264',
      '-profile:v',
      'baseline',
      '-level',
      '3.1',
      '-pix_fmt',
      'yuv420p',
      '-preset',
      'veryfast',
      '-tune',
      'zerolatency',
      '-b:v',
      `${kbps}k`,
      '-maxrate',
      `${kbps}k`,
      '-bufsize',
      `${kbps}k`,
      '-x264-params',
      'keyint=60:bframes=0:aud=1',
      '-bsf:v',
      'h264_mp4toannexb',
      '-f',
      'h264',
      file,
    ]);
  }
  return splitAtAud(fs.readFileSync(file));
}

/** Splits an Annex-B stream written with `aud=1` into access units (each starts at its AUD). */
export function splitAtAud(stream: Uint8Array): Uint8Array[] {
  const starts: number[] = [];
  forEachAnnexBNal(stream, (start) => {
    if ((stream[start] & 0x1f) === 9) starts.push(Math.max(0, start - 4));
  });
  const out: Uint8Array[] = [];
  for (let i = 0; i < starts.length; i++)
    out.push(stream.subarray(starts[i], starts[i + 1] ?? stream.length));
  return out;
}

/** A y4m clip for `--use-file-for-fake-video-capture` (Chromium loops it). */
export function makeY4m(dir: string, seconds: number): string {
  const file = path.join(dir, 'camera-640x360-15.y4m');
  if (!fs.existsSync(file)) {
    execFileSync('ffmpeg', [
      '-v',
      'error',
      '-y',
      '-f',
      'lavfi',
      '-i',
      `testsrc2=s=640x360:r=15:d=${seconds}`,
      '-pix_fmt',
      'yuv420p',
      file,
    ]);
  }
  return file;
}
