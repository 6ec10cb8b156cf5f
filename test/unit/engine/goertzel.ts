/**
 * Goertzel power of one frequency in a block of samples: a single DFT bin, cheap enough to
 * check "is this tone present" in tests without an FFT library.
 */
export function goertzelPower(samples: ArrayLike<number>, sampleRate: number, frequency: number): number {
  const n = samples.length;
  const k = Math.round((n * frequency) / sampleRate);
  const coeff = 2 * Math.cos((2 * Math.PI * k) / n);
  let s1 = 0;
  let s2 = 0;
  for (let i = 0; i < n; i++) {
    const s0 = samples[i] + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  return (s1 * s1 + s2 * s2 - coeff * s1 * s2) / (n * n);
}

/** Fills `out` with a sine of the given amplitude, continuing from sample index `start`. */
export function sine(
  out: Int16Array,
  sampleRate: number,
  frequency: number,
  amplitude: number,
  start = 0,
): Int16Array {
  for (let i = 0; i < out.length; i++) {
    out[i] = Math.round(amplitude * Math.sin((2 * Math.PI * frequency * (start + i)) / sampleRate));
  }
  return out;
}
