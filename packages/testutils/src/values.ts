// Awkward strings for testing what a tool's input language carries: quotes of both kinds, '#',
// backslashes, blanks, line breaks, unicode, the empty string — fixed ones plus a seeded stream.

/** Hand-picked awkward values. */
export const AWKWARD_VALUES: readonly string[] = [
  '',
  ' ',
  'a b',
  'a"b',
  "a'b",
  '"a',
  "'a",
  '"',
  "'",
  'a\\',
  '\\',
  'a\\b',
  'a\\"b',
  'a\tb',
  'a\rb',
  'é日本🙂',
  'a b"c',
  "a b'c",
  '-j',
  'x;y$z{}',
  'a#b',
  '#',
  'a\nb',
  '\n',
  'a b"c\'d',
  'x\0y',
  '*',
  'a*',
];

/**
 * `count` strings drawn from `alphabet` (each under `lengths` characters) by a linear
 * congruential stream from `seed`, so a failure can be replayed.
 */
export function seededStrings(seed: number, count: number, alphabet: readonly string[], lengths = 9): string[] {
  let s = seed;
  const next = () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s;
  };
  return Array.from({ length: count }, () =>
    Array.from({ length: next() % lengths }, () => alphabet[next() % alphabet.length]).join(''),
  );
}

/** `count` generated values from `seed` (a linear congruential stream, so a failure can be replayed). */
export function generatedValues(seed: number, count: number): string[] {
  const alphabet = ['a', 'b', 'x', ' ', '\t', '\r', '"', "'", '\\', '#', '\n', 'é', '日', ';', '-', '/', '*', '{'];
  return seededStrings(seed, count, alphabet);
}

/** The seed for this run: CNI_TS_TEST_SEED, else one derived from the clock (print it in test titles). */
export const TEST_SEED = Number(process.env.CNI_TS_TEST_SEED ?? Date.now() % 100_000);
