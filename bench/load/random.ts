/**
 * Seeded randomness for the load generator. Everything a run draws — prompt lengths, text seeds,
 * shuffles, arrival gaps — comes from these generators, so `--seed` reproduces a run exactly
 * (Math.random is never used).
 */

/** A uniform [0, 1) generator. */
export type Rng = () => number;

/** mulberry32: tiny, fast, and good enough for sampling lengths and gaps. */
export function createRng(seed: number): Rng {
  let s = mixSeed(seed, 0x6d2b79f5);
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/**
 * A 32-bit seed derived from a seed and a salt (murmur3's finalizer), so independent streams
 * (a sweep level, the warm-up, one trace block id) never share text by accident.
 */
export function mixSeed(seed: number, salt: number): number {
  let h = (Math.trunc(seed) ^ Math.imul(Math.trunc(salt) | 0, 0x9e3779b1)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A fresh 32-bit seed from a stream (used to seed `prose`). */
export function nextSeed(rng: Rng): number {
  return Math.floor(rng() * 2 ** 32) >>> 0;
}

/** Uniform integer in [low, high], both inclusive (numpy's `integers(low, high + 1)`). */
export function randInt(rng: Rng, low: number, high: number): number {
  return low + Math.floor(rng() * (high - low + 1));
}

/** Fisher–Yates, in place. */
export function shuffle<T>(items: T[], rng: Rng): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

function standardNormal(rng: Rng): number {
  // Box–Muller; 1 − u keeps the logarithm finite.
  const u = 1 - rng();
  const v = rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/**
 * A gamma(shape, scale) draw (Marsaglia & Tsang 2000). Shape 1 is the exponential distribution,
 * drawn directly so a Poisson process costs one uniform per gap.
 */
export function gammaSample(rng: Rng, shape: number, scale: number): number {
  if (shape === 1) return -Math.log(1 - rng()) * scale;
  if (shape < 1) {
    // Boost: gamma(a) = gamma(a + 1) · U^(1/a).
    return gammaSample(rng, shape + 1, scale) * Math.pow(1 - rng(), 1 / shape);
  }
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = standardNormal(rng);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = 1 - rng();
    if (u < 1 - 0.0331 * x ** 4) return d * v * scale;
    if (Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v * scale;
  }
}
