/**
 * Where each flash and beep of the lip-sync publisher ended up in a finalized recording: the
 * video decoded to 64x36 gray (flash = first bright frame, time = its pts) and the audio decoded
 * at 48 kHz (beep = first loud sample), by the recording-drift benchmark's decoders.
 */
import { findBeeps, findFlashes, probe, videoPts } from '../recording-drift/analysis';
import { pairOnsets, type PairedEvent } from './flash-beep';

export interface RecordingOnsets {
  durationSec: number;
  flashes: number;
  beeps: number;
  events: PairedEvent[];
}

export async function analyseRecording(mp4: string, minutes: number): Promise<RecordingOnsets> {
  const info = await probe(mp4);
  const a = info.streams.find((s) => s.codec_type === 'audio');
  if (!a || !info.streams.some((s) => s.codec_type === 'video'))
    throw new Error(`${mp4} lacks a video or an audio stream`);
  const pts = await videoPts(mp4);
  const flashes: number[] = [];
  await findFlashes(mp4, pts, minutes, (sec) => flashes.push(sec * 1000));
  const beeps = await findBeeps(mp4, Number(a.start_time ?? 0), minutes);
  const beepMs = beeps.onsets.map((s) => s * 1000);
  return {
    durationSec: info.durationSec,
    flashes: flashes.length,
    beeps: beepMs.length,
    events: pairOnsets(flashes, beepMs),
  };
}
