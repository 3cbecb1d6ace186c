// presentFields: an object schema built from the keys a value holds parses every value exactly as
// the schema with every field does (absent optional fields parse the same either way).
import test from 'ava';
import * as z from 'zod/mini';
import { CniError, foldKeys, opt, parseResult, presentFields, valuesOfKey } from '../src/index.js';

const FIELDS = {
  a: () => opt(z.string()),
  bB: () => opt(z.int()),
  c: () => opt(z.object({ d: opt(z.boolean()) })),
};
const full = z.looseObject({
  name: z.string(),
  ...Object.fromEntries(Object.entries(FIELDS).map(([k, f]) => [k, f()])),
});
const reduced = (v: unknown) => z.looseObject({ name: z.string(), ...presentFields(FIELDS, v) });
const parse = (s: z.ZodMiniType, v: unknown) => {
  const r = s.safeParse(foldKeys(s, v));
  return r.success ? { data: r.data } : { issues: r.error.issues.map((i) => [i.path.join('.'), i.code]) };
};

test('presentFields builds only the fields a value holds, matched in any case', (t) => {
  t.deepEqual(Object.keys(presentFields(FIELDS, { a: 'x', BB: 1, other: 2 })), ['a', 'bB']);
  t.deepEqual(Object.keys(presentFields(FIELDS, { C: {} }, { a: 1 })), ['a', 'c']);
  t.deepEqual(Object.keys(presentFields(FIELDS, 'not an object', [1], null)), []);
  t.deepEqual(valuesOfKey({ ipam: 1, IPAM: 2, x: 3 }, 'Ipam'), [1, 2]);
  t.deepEqual(valuesOfKey([1], 'ipam'), []);
});

test('a schema from presentFields parses as the whole schema: same data, same issues', (t) => {
  const values: unknown[] = [
    { name: 'n' },
    { name: 'n', a: 'x', bb: 3 },
    { name: 'n', A: 5 },
    { name: 'n', bB: 1.5, c: { d: 'no' } },
    { name: 'n', C: { D: true }, extra: [1] },
    { a: null, BB: null },
    { name: 'n', c: null, a: undefined },
  ];
  for (const v of values) t.deepEqual(parse(reduced(v), v), parse(full, v), JSON.stringify(v));
});

test('a value nested too deep to print is named, not a crash (code 6, not a RangeError)', (t) => {
  const d = 100_000;
  const raw = JSON.parse(`{"cniVersion":"1.0.0","ips":[{"address":${'['.repeat(d)}${']'.repeat(d)}}]}`);
  const e = t.throws(() => parseResult(raw, '1.0.0', 'prevResult'));
  t.true(e instanceof CniError, String(e));
  t.is((e as CniError).code, 6);
  t.regex(
    e?.message ?? '',
    /^invalid prevResult: ips\[0\]\.address: expected a string, got a value nested too deep to print/,
  );
});

test("a prevResult's cniVersion nested too deep to print is a code-6 error too", (t) => {
  const d = 100_000;
  const raw = JSON.parse(`{"cniVersion":${'['.repeat(d)}${']'.repeat(d)}}`);
  const e = t.throws(() => parseResult(raw, '1.0.0', 'prevResult'));
  t.is((e as CniError).code, 6);
  t.regex(e?.message ?? '', /cniVersion: must be a version such as "1\.0\.0", got a value nested too deep to print/);
});
