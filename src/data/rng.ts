/**
 * The project's seeded pseudo-random generator: xoshiro128** (Blackman & Vigna), a
 * 128-bit state held as four uint32 words. It drives batch shuffling and weight
 * initialization (sampling draws from Philox instead: src/sample/philox.ts). It is
 * deterministic on every platform (32-bit integer arithmetic only), its state is a
 * small JSON value that restores exactly, and independent streams are derived from
 * (seed, keys...) by hashing instead of by sharing one sequence, so that e.g. epoch
 * 7's shuffle never depends on what ran before.
 */
import { PixelCNNError } from '../errors';

/** The generator's state: four uint32 words, not all zero. JSON-serializable. */
export type RngState = [number, number, number, number];

/** lowbias32 (hash-prospector): a bijective 32-bit mixer with good avalanche. */
function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** A safe integer as its low and high 32-bit words (two's complement for negatives). */
function words(value: number, what: string): [number, number] {
  if (!Number.isSafeInteger(value)) {
    throw new PixelCNNError('ERR_ARG', `Rng: ${what} must be a safe integer, got ${String(value)}`);
  }
  return [value >>> 0, Math.floor(value / 0x1_0000_0000) >>> 0];
}

/**
 * Hashes the input words into a state. Four chains with different starting values
 * (digits of pi) each absorb every word, so distinct inputs give unrelated states;
 * the word count is absorbed last so that (s) and (s, 0) differ.
 */
function seedState(input: number[]): RngState {
  const h: RngState = [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344];
  const absorb = (w: number): void => {
    for (let k = 0; k < 4; k++) h[k] = mix32((h[k] ^ w) + Math.imul(k + 1, 0x9e3779b9));
  };
  for (const w of input) absorb(w);
  absorb(input.length);
  if ((h[0] | h[1] | h[2] | h[3]) === 0) h[0] = 1; // the one state xoshiro cannot leave
  return h;
}

const TWO_POW_32 = 0x1_0000_0000;

export class Rng {
  // The four state words as separate fields rather than an array: V8 keeps them unboxed.
  #s0 = 0;
  #s1 = 0;
  #s2 = 0;
  #s3 = 0;

  /**
   * A generator for `seed` (any safe integer) and optional `keys` (safe integers)
   * naming an independent stream, e.g. `new Rng(seed, STREAM_SHUFFLE, epoch)`.
   */
  constructor(seed: number, ...keys: number[]) {
    const input = [...words(seed, 'seed')];
    keys.forEach((key, i) => input.push(...words(key, `key ${i}`)));
    this.state = seedState(input);
  }

  /** A generator that continues from a saved `state`. */
  static fromState(state: RngState): Rng {
    const rng = new Rng(0);
    rng.state = state;
    return rng;
  }

  /** A copy of the current state; `Rng.fromState(rng.state)` continues identically. */
  get state(): RngState {
    return [this.#s0, this.#s1, this.#s2, this.#s3];
  }

  set state(state: RngState) {
    const ok =
      Array.isArray(state) &&
      state.length === 4 &&
      state.every((w) => Number.isInteger(w) && w >= 0 && w < TWO_POW_32) &&
      state.some((w) => w !== 0);
    if (!ok) {
      throw new PixelCNNError(
        'ERR_ARG',
        `Rng: a state is four uint32 words, not all zero; got ${JSON.stringify(state)}`,
      );
    }
    [this.#s0, this.#s1, this.#s2, this.#s3] = state;
  }

  /** An independent generator with the same state (this one is unaffected). */
  clone(): Rng {
    return Rng.fromState(this.state);
  }

  /** The next uint32 in [0, 2^32). */
  nextUint32(): number {
    const s0 = this.#s0;
    const s1 = this.#s1;
    const s2 = this.#s2;
    const s3 = this.#s3;
    // result = rotl(s1 * 5, 7) * 9
    const m = Math.imul(s1, 5);
    const result = Math.imul((m << 7) | (m >>> 25), 9) >>> 0;
    const t = s1 << 9;
    const n2 = s2 ^ s0;
    const n3 = s3 ^ s1;
    this.#s1 = (s1 ^ n2) >>> 0;
    this.#s0 = (s0 ^ n3) >>> 0;
    this.#s2 = (n2 ^ t) >>> 0;
    this.#s3 = ((n3 << 11) | (n3 >>> 21)) >>> 0;
    return result;
  }

  /** A float in [0, 1) with 32 random bits (one draw): enough for float32 work. */
  nextFloat(): number {
    return this.nextUint32() / TWO_POW_32;
  }

  /** A double in [0, 1) with 53 random bits (two draws). */
  nextDouble(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** An integer uniform in [0, n), without modulo bias; n in 1..2^32. */
  nextBelow(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > TWO_POW_32) {
      throw new PixelCNNError('ERR_ARG', `Rng.nextBelow: n must be an integer in 1..2^32, got ${n}`);
    }
    // Reject the top partial block of 2^32 so every residue is equally likely.
    const limit = TWO_POW_32 - (TWO_POW_32 % n);
    let x = this.nextUint32();
    while (x >= limit) x = this.nextUint32();
    return x % n;
  }

  /** A standard normal draw (Box–Muller; two 53-bit uniforms per value, no cached pair,
   *  so the state alone determines what comes next). */
  nextNormal(): number {
    const u1 = 1 - this.nextDouble(); // (0, 1]: log stays finite
    const u2 = this.nextDouble();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }
}
