/**
 * What the Opus encode of a mix-minus costs and how much of the missing voice it puts back.
 * The bench:audio room in one process, without network or jitter buffers: 16 tones
 * (bench/tones.ts, amplitude 0.05, as bench/audio-room.ts sends), the mix-minus of listener L
 * (all but L's tone) encoded at 20 ms frames with our Opus encoder and decoded again; the own
 * tone's level in the decoded signal against the others' (Hann-windowed Goertzel, as the room
 * benchmark measures it) is the suppression the codec alone allows. Per setting: CPU µs
 * per 20 ms encode, and suppression min / median over the 16 listeners, read over the last 1 s
 * and the last `--window` s (bench/tones.ts).
 *
 *   npx tsc -p tsconfig.build.json && node dist/bench/micro/opus-mix.js [--window=4] [--tones=spread|grid]
 *     [--spectrum]
 */
import { OPUS_MAX_PACKET_BYTES, OpusDecoder, OpusEncoder } from '../../workers/media/engine/codec/opus';
import { codecsAvailable } from '../../workers/media/engine/codec/native-codec';
import { DOWNLINK_OPUS } from '../../workers/media/shared-mix-encoder';
import { levelBelowOthersDb, ownToneSuppressionDb, toneHz, type ToneSet } from '../tones';

const RATE = 48000;
const FRAME = 960;
const N = 16;
const AMPLITUDE = 0.05 * 32767;

/** Listener `own`'s mix-minus, `seconds` long. */
function mixMinus(own: number, seconds: number, tones: ToneSet): Int16Array {
  const out = new Int16Array(RATE * seconds);
  for (let j = 0; j < N; j++) {
    if (j === own) continue;
    const step = (2 * Math.PI * toneHz(j, tones)) / RATE;
    for (let s = 0; s < out.length; s++) out[s] += Math.round(AMPLITUDE * Math.sin(step * s));
  }
  return out;
}

interface Setting {
  complexity: number;
  bitrateBps: number;
  application: 'voip' | 'audio';
}

/** `input` encoded at 20 ms frames and decoded again; `onEncode` gets each encode's CPU µs. */
function roundTrip(setting: Setting, input: Int16Array, onEncode: (us: number) => void): Int16Array {
  const enc = OpusEncoder.create({ ...setting, fec: setting.application === 'voip', packetLossPercent: 5 });
  const dec = OpusDecoder.create();
  if (!enc || !dec) throw new Error(`codec addon unavailable: ${codecsAvailable().reason ?? ''}`);
  const packet = new Uint8Array(OPUS_MAX_PACKET_BYTES);
  const pcmOut = new Int16Array(5760);
  const decoded = new Int16Array(input.length);
  for (let f = 0; f + FRAME <= input.length; f += FRAME) {
    const t0 = process.cpuUsage();
    const len = enc.encode(input.subarray(f, f + FRAME), packet);
    const t1 = process.cpuUsage(t0);
    onEncode(t1.user + t1.system);
    const n = dec.decode(packet.subarray(0, len), pcmOut);
    decoded.set(pcmOut.subarray(0, n), f);
  }
  enc.close();
  dec.close();
  return decoded;
}

/**
 * `--spectrum`: what the product's setting leaves around listener 8's missing tone over the
 * last second, in dB below the others' tones, from 20 Hz below it to 20 Hz above. On the grid
 * set the codec noise is a comb of lines every 10 Hz (the own tone's bin is one of them, and so
 * are ±10 and ±20 Hz, where nobody ever sent anything) with nothing between the lines.
 */
function spectrum(tones: ToneSet): string {
  const own = 8;
  const x = roundTrip(DOWNLINK_OPUS, mixMinus(own, 3, tones), () => undefined).subarray(RATE * 2);
  const offsets = [-20, -15, -10, -5, -2, -1, 0, 1, 2, 5, 10, 15, 20];
  const f0 = toneHz(own, tones);
  const dB = offsets.map((d) => Math.round(levelBelowOthersDb(x, RATE, f0 + d, own, N, tones)));
  return [
    `Tone set ${tones}, listener ${own} (own tone ${f0.toFixed(1)} Hz), DOWNLINK_OPUS, last 1 s: dB below the others' tones`,
    '',
    `| offset Hz | ${offsets.join(' | ')} |`,
    `|---|${offsets.map(() => '---:').join('|')}|`,
    `| dB | ${dB.join(' | ')} |`,
  ].join('\n');
}

interface Reading {
  min: number;
  median: number;
}

/** Per setting: CPU per encode, and the suppression over the last 1 s and the last `window` s. */
function run(
  setting: Setting,
  seconds: number,
  window: number,
  tones: ToneSet,
): { usPerFrame: number; last1s: Reading; lastWindow: Reading } {
  const sup1: number[] = [];
  const supW: number[] = [];
  let cpuUs = 0;
  let frames = 0;
  for (let own = 0; own < N; own++) {
    const decoded = roundTrip(setting, mixMinus(own, seconds, tones), (us) => {
      cpuUs += us;
      frames++;
    });
    // The end of the run (the encoder has settled from the first second on).
    sup1.push(ownToneSuppressionDb(decoded.subarray(decoded.length - RATE), RATE, own, N, tones));
    supW.push(ownToneSuppressionDb(decoded.subarray(decoded.length - RATE * window), RATE, own, N, tones));
  }
  const reading = (xs: number[]): Reading => {
    xs.sort((a, b) => a - b);
    return { min: xs[0], median: xs[Math.floor(N / 2)] };
  };
  return { usPerFrame: cpuUs / frames, last1s: reading(sup1), lastWindow: reading(supW) };
}

function main(): void {
  let window = 4;
  let tones: ToneSet = 'spread';
  for (const a of process.argv.slice(2)) {
    const [k, v] = a.split('=', 2);
    if (k === '--window' && Number(v) >= 1) window = Number(v);
    else if (k === '--tones' && (v === 'spread' || v === 'grid')) tones = v;
    else if (k === '--spectrum') {
      process.stdout.write(spectrum(tones) + '\n');
      return;
    } else throw new Error(`unknown argument ${a} (--window=S, --tones=spread|grid, --spectrum)`);
  }
  // One second for the encoder to settle, then the analysed window.
  const seconds = window + 1;
  const r1 = (x: number) => Math.round(x * 10) / 10;
  const lines = [
    `Tone set: ${tones}; suppression over the last 1 s and the last ${window} s of each listener's decoded mix-minus`,
    '',
    `| application | bitrate kbit/s | complexity | CPU µs per 20 ms encode | % of one core for 16 encoders | suppression min / median dB, 1 s | same, ${window} s |`,
    '|---|---:|---:|---:|---:|---|---|',
  ];
  const settings: Setting[] = [];
  for (const complexity of [0, 2, 3, 5, 7, 9, 10])
    settings.push({ complexity, bitrateBps: 32000, application: 'voip' });
  for (const complexity of [3, 5]) {
    settings.push({ complexity, bitrateBps: 40000, application: 'voip' });
    settings.push({ complexity, bitrateBps: 32000, application: 'audio' });
    settings.push({ complexity, bitrateBps: 40000, application: 'audio' });
  }
  for (const s of settings) {
    const r = run(s, seconds, window, tones);
    const line = `| ${s.application} | ${s.bitrateBps / 1000} | ${s.complexity} | ${r1(r.usPerFrame)} | ${r1((16 * r.usPerFrame * 50) / 1e4)} | ${r1(r.last1s.min)} / ${r1(r.last1s.median)} | ${r1(r.lastWindow.min)} / ${r1(r.lastWindow.median)} |`;
    lines.push(line);
    process.stderr.write(line + '\n');
  }
  process.stdout.write(lines.join('\n') + '\n');
}

main();
