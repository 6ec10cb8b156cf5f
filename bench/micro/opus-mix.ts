/**
 * What the Opus encode of a mix-minus costs and how much of the missing voice it puts back.
 * The bench:audio room in one process, without network or jitter buffers: 16 tones
 * (300 + 80·i Hz, amplitude 0.05, as bench/audio-room.ts sends), the mix-minus of listener L
 * (all but L's tone) encoded at 20 ms frames with our Opus encoder and decoded again; the own
 * tone's level in the decoded signal against the others' (Hann-windowed Goertzel over 1 s, as
 * the room benchmark measures it) is the suppression the codec alone allows. Per setting: CPU µs
 * per 20 ms encode, and suppression min / median over the 16 listeners.
 *
 *   npx tsc -p tsconfig.build.json && node dist/bench/micro/opus-mix.js [--seconds=3]
 */
import { OPUS_MAX_PACKET_BYTES, OpusDecoder, OpusEncoder } from '../../workers/media/engine/codec/opus';
import { codecsAvailable } from '../../workers/media/engine/codec/native-codec';

const RATE = 48000;
const FRAME = 960;
const N = 16;
const AMPLITUDE = 0.05 * 32767;
const toneHz = (i: number): number => 300 + i * 80;

function goertzel(x: Int16Array, freq: number): number {
  const k = (2 * Math.PI * freq) / RATE;
  const c = 2 * Math.cos(k);
  let s1 = 0;
  let s2 = 0;
  const n = x.length;
  for (let i = 0; i < n; i++) {
    const w = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / (n - 1));
    const s = (w * x[i]) / 32768 + c * s1 - s2;
    s2 = s1;
    s1 = s;
  }
  return (4 * Math.sqrt(Math.max(0, s1 * s1 + s2 * s2 - c * s1 * s2))) / n;
}

/** Listener `own`'s mix-minus, `seconds` long. */
function mixMinus(own: number, seconds: number): Int16Array {
  const out = new Int16Array(RATE * seconds);
  for (let j = 0; j < N; j++) {
    if (j === own) continue;
    const step = (2 * Math.PI * toneHz(j)) / RATE;
    for (let s = 0; s < out.length; s++) out[s] += Math.round(AMPLITUDE * Math.sin(step * s));
  }
  return out;
}

function suppressionDb(x: Int16Array, own: number): number {
  let others = 0;
  for (let j = 0; j < N; j++) if (j !== own) others += goertzel(x, toneHz(j));
  others /= N - 1;
  return 20 * Math.log10(others / Math.max(goertzel(x, toneHz(own)), 1e-9));
}

interface Setting {
  complexity: number;
  bitrateBps: number;
  application: 'voip' | 'audio';
}

function run(setting: Setting, seconds: number): { usPerFrame: number; min: number; median: number } {
  const sup: number[] = [];
  let cpuUs = 0;
  let frames = 0;
  const packet = new Uint8Array(OPUS_MAX_PACKET_BYTES);
  const pcmOut = new Int16Array(5760);
  for (let own = 0; own < N; own++) {
    const enc = OpusEncoder.create({ ...setting, fec: setting.application === 'voip', packetLossPercent: 5 });
    const dec = OpusDecoder.create();
    if (!enc || !dec) throw new Error(`codec addon unavailable: ${codecsAvailable().reason ?? ''}`);
    const input = mixMinus(own, seconds);
    const decoded = new Int16Array(input.length);
    for (let f = 0; f + FRAME <= input.length; f += FRAME) {
      const t0 = process.cpuUsage();
      const len = enc.encode(input.subarray(f, f + FRAME), packet);
      const t1 = process.cpuUsage(t0);
      cpuUs += t1.user + t1.system;
      frames++;
      const n = dec.decode(packet.subarray(0, len), pcmOut);
      decoded.set(pcmOut.subarray(0, n), f);
    }
    enc.close();
    dec.close();
    // The last second (the encoder has settled).
    sup.push(suppressionDb(decoded.subarray(decoded.length - RATE), own));
  }
  sup.sort((a, b) => a - b);
  return { usPerFrame: cpuUs / frames, min: sup[0], median: sup[Math.floor(N / 2)] };
}

function main(): void {
  let seconds = 3;
  for (const a of process.argv.slice(2)) {
    const m = /^--seconds=(\d+)$/.exec(a);
    if (!m) throw new Error(`unknown argument ${a} (--seconds=S)`);
    seconds = Math.max(2, Number(m[1]));
  }
  const r1 = (x: number) => Math.round(x * 10) / 10;
  const lines = [
    '| application | bitrate kbit/s | complexity | CPU µs per 20 ms encode | % of one core for 16 encoders | suppression min / median dB |',
    '|---|---:|---:|---:|---:|---|',
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
    const r = run(s, seconds);
    const line = `| ${s.application} | ${s.bitrateBps / 1000} | ${s.complexity} | ${r1(r.usPerFrame)} | ${r1((16 * r.usPerFrame * 50) / 1e4)} | ${r1(r.min)} / ${r1(r.median)} |`;
    lines.push(line);
    process.stderr.write(line + '\n');
  }
  process.stdout.write(lines.join('\n') + '\n');
}

main();
