// Seeds and trial counts: every randomised test takes its seed from HD_SEED (or the clock) and
// prints it, so a failure replays with `HD_SEED=<seed>`; HD_TRIALS scales the trial counts
// (the CI sample by default; tools/bench/hardening.mjs runs the long mode).

/** The seed of this run: HD_SEED when set, else derived from the clock. */
export function runSeed(): number {
  const fromEnv = Number(process.env.HD_SEED);
  return Number.isInteger(fromEnv) ? fromEnv : Date.now() % 2_147_483_647;
}

/** How many trials: HD_TRIALS when set, else the CI sample size given. */
export function trials(ciSample: number): number {
  const n = Number(process.env.HD_TRIALS);
  return Number.isInteger(n) && n > 0 ? n : ciSample;
}

/** A small seeded PRNG (mulberry32): the same seed gives the same trials. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
