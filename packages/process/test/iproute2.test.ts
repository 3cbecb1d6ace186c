// The iproute2 encoder against the real tools: every value goes through iprouteToken (via
// ipBatch/bridgeBatch/tcBatch) into `ip`, `bridge` or `tc`, whose error messages echo back the
// word they read. No expected batch text appears here.
import test from 'ava';
import { UnencodableError, bridgeBatch, ipBatch, iprouteToken, isKind, tcBatch } from '../src/index.js';
import { scratchExecutor, thrown } from './scratch.js';

// Awkward by hand: quotes of both kinds, '#', backslashes, blanks, unicode, empty, line breaks.
const FIXED = [
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
  'a\tb',
  'a\rb',
  'é日本🙂',
  'a b"c',
  "a b'c",
  '"a b"',
  '-j',
  'x;y$z',
  'a#b',
  '#',
  'a\nb',
  '\n',
  'a b"c\'d',
  '"a\'b',
  'x\0y',
];

// More of the same from a seeded generator, so a failure can be replayed.
function generated(seed: number, count: number): string[] {
  const alphabet = ['a', 'b', 'x', ' ', '\t', '\r', '"', "'", '\\', '#', '\n', 'é', '日', ';', '-', '/', '*'];
  let s = seed;
  const next = () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s;
  };
  return Array.from({ length: count }, () =>
    Array.from({ length: next() % 9 }, () => alphabet[next() % alphabet.length]).join(''),
  );
}

const SEED = Number(process.env.CNI_TS_TEST_SEED ?? Date.now() % 100_000);
const VALUES = [...new Set([...FIXED, ...generated(SEED, 300)])].filter((v) => v !== 'lo');

// What the grammar cannot carry (see iproute2.ts): independent of the encoder's code path.
function carriable(v: string): boolean {
  if (/[\n#\0]/.test(v)) return false;
  const needsQuotes = v === '' || /[ \t\r]/.test(v) || /^["']/.test(v) || v.endsWith('\\');
  return !needsQuotes || !(v.includes('"') && v.includes("'"));
}

function encodable(values: readonly string[]): string[] {
  return values.filter((v) => {
    try {
      iprouteToken(v);
      return true;
    } catch {
      return false;
    }
  });
}

// Splits stderr of a `-force` batch into each failing line's message, by line number.
function messagesByLine(stderr: string): Map<number, string> {
  const out = new Map<number, string>();
  const re = /Command failed -:(\d+)\n/g;
  let from = 0;
  for (let m = re.exec(stderr); m; m = re.exec(stderr)) {
    out.set(Number(m[1]), stderr.slice(from, m.index));
    from = re.lastIndex;
  }
  return out;
}

test(`ip reads back every value iprouteToken writes (seed ${SEED})`, (t) => {
  const values = encodable(VALUES);
  const e = thrown(() =>
    ipBatch(
      scratchExecutor,
      values.map((v) => ['link', 'show', 'dev', v]),
      { options: ['-force'] },
    ),
  );
  t.true(isKind(e, 'missing'), String(e));
  const byLine = messagesByLine((e as { stderr: string }).stderr);
  values.forEach((v, i) => {
    t.is(byLine.get(i + 1), `Device "${v}" does not exist.\n`, `value ${JSON.stringify(v)}`);
  });
  t.is(byLine.size, values.length, 'one failing line per value, no extra commands');
});

test(`iprouteToken refuses exactly what the grammar cannot carry (seed ${SEED})`, (t) => {
  for (const v of VALUES) {
    if (carriable(v)) {
      t.notThrows(() => iprouteToken(v), JSON.stringify(v));
      continue;
    }
    const e = t.throws(() => iprouteToken(v), { instanceOf: UnencodableError }, JSON.stringify(v));
    t.is(e?.value, v, 'the error carries the value');
    t.is(e?.grammar, 'iproute2');
  }
  t.regex((thrown(() => iprouteToken('a\nb')) as Error).message, /newline/);
  t.regex((thrown(() => iprouteToken('a#b')) as Error).message, /"#"/);
});

test('a refused value fails the whole batch before the tool runs', (t) => {
  let ran = 0;
  const counting = {
    run(...a: Parameters<typeof scratchExecutor.run>) {
      ran++;
      return scratchExecutor.run(...a);
    },
  };
  t.throws(
    () =>
      ipBatch(counting, [
        ['link', 'set', 'lo', 'up'],
        ['link', 'show', 'dev', 'x\nlink del lo'],
      ]),
    {
      instanceOf: UnencodableError,
    },
  );
  t.is(ran, 0);
});

test('bridge and tc read the same grammar', (t) => {
  const values = encodable(['a b', 'a"b c', "a'b c", '', '\\', 'é x', "'", '"']);
  const b = thrown(() =>
    bridgeBatch(
      scratchExecutor,
      values.map((v) => ['link', 'show', 'dev', v]),
      { options: ['-force'] },
    ),
  );
  const bl = messagesByLine((b as { stderr: string }).stderr);
  for (const [i, v] of values.entries())
    t.is(bl.get(i + 1), `Cannot find device "${v}"\n`, `bridge: ${JSON.stringify(v)}`);
  // tc reads `dev ""` as no device at all (it shows every qdisc), so the empty value is left out
  const tcValues = values.filter((v) => v !== '');
  const c = thrown(() =>
    tcBatch(
      scratchExecutor,
      tcValues.map((v) => ['qdisc', 'show', 'dev', v]),
      { options: ['-force'] },
    ),
  );
  const cl = messagesByLine((c as { stderr: string }).stderr);
  for (const [i, v] of tcValues.entries())
    t.is(cl.get(i + 1), `Cannot find device "${v}"\n`, `tc: ${JSON.stringify(v)}`);
});

test('the refused and quoted cases are real: written as they are, the tools misread them', (t) => {
  const run = (input: string) => scratchExecutor.run('ip', ['-force', '-batch', '-'], { input }).stderr;
  t.regex(run('link show dev "a#b"\n'), /Unterminated quoted string/, '"#" cuts the line even inside quotes');
  t.regex(run('link show dev "x\nlink show dev y"\n'), /Unterminated quoted string/, 'a newline ends the command');
  t.regex(run('link show dev "a\\"b"\n'), /garbage/, 'there is no backslash escape');
  t.regex(run('link show dev ab\\\nlink show dev zz\n'), /duplicate/, 'a trailing backslash joins the next line');
});
