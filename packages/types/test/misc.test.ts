import test from 'ava';
import * as z from 'zod/mini';
import {
  CniError,
  compareVersions,
  foldKeys,
  goJson,
  sortKeysDeep,
  parseVersion,
  parseWith,
  resultFamily,
  toCniError,
  versionsFrom,
} from '../src/index.js';

test('goJson escapes HTML characters as Go does and has no trailing newline', (t) => {
  t.is(goJson({ msg: 'a <b> & c' }), '{\n    "msg": "a \\u003cb\\u003e \\u0026 c"\n}');
});

test('version parsing and comparison', (t) => {
  t.deepEqual(parseVersion('1'), [1, 0, 0]);
  t.true(compareVersions('0.3.1', '0.3.0') > 0);
  t.true(compareVersions('1.0.0', '0.4.0') > 0);
  t.is(compareVersions('1.0', '1.0.0'), 0);
  t.is(t.throws(() => parseVersion('1.0.0.0'), { instanceOf: CniError })?.code, 1);
  t.is(t.throws(() => parseVersion('v1'), { instanceOf: CniError })?.code, 1);
  t.deepEqual(versionsFrom('0.3.0'), ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0']);
  t.is(resultFamily('0.3.1'), '0.4');
  t.is(resultFamily('0.1.0'), '0.2');
});

test('toCniError keeps codes, honours cniCode and wraps the rest as 999 with the cause', (t) => {
  const coded = new CniError(7, 'bad');
  t.is(toCniError(coded), coded);
  const busy = Object.assign(new Error('lock held'), { cniCode: 11 });
  t.is(toCniError(busy).code, 11);
  const plain = new TypeError('boom');
  const e = toCniError(plain);
  t.is(e.code, 999);
  t.is(e.message, 'boom');
  t.is(e.cause, plain);
  t.deepEqual(e.toJSON(), { code: 999, msg: 'boom' });
});

test('foldKeys renames keys case-insensitively through objects, arrays, unions and records', (t) => {
  const s = z.object({
    ipMasq: z.optional(z.boolean()),
    runtimeConfig: z.optional(z.object({ portMappings: z.array(z.object({ hostPort: z.number() })) })),
    trunk: z.optional(
      z.array(z.union([z.object({ id: z.number() }), z.object({ minID: z.number(), maxID: z.number() })])),
    ),
    labels: z.optional(z.record(z.string(), z.object({ keyName: z.string() }))),
  });
  const folded = foldKeys(s, {
    IPMASQ: true,
    RuntimeConfig: { PortMappings: [{ HostPort: 80 }] },
    Trunk: [{ ID: 1 }, { MinId: 2, maxid: 3 }],
    labels: { Foo: { KEYNAME: 'x' } },
    unknownKey: { HostPort: 1 },
  });
  t.deepEqual(folded, {
    ipMasq: true,
    runtimeConfig: { portMappings: [{ hostPort: 80 }] },
    trunk: [{ id: 1 }, { minID: 2, maxID: 3 }],
    labels: { Foo: { keyName: 'x' } },
    unknownKey: { HostPort: 1 },
  });
});

test('foldKeys: the later of two spellings wins, as in Go', (t) => {
  const s = z.object({ mtu: z.optional(z.number()) });
  t.deepEqual(foldKeys(s, { mtu: 1, MTU: 2 }), { mtu: 2 });
});

test('parseWith names the path, what was expected and what was given (zod/mini has no messages of its own)', (t) => {
  const s = z.object({
    mtu: z.optional(z.int()),
    ranges: z.array(z.object({ subnet: z.string() })),
    mode: z.optional(z.enum(['a', 'b'])),
    n: z.optional(z.number().check(z.maximum(10))),
  });
  const e = t.throws(
    () => parseWith(s, { mtu: 'big', ranges: [{}], mode: 'c', n: 11 }, 'bridge network configuration'),
    { instanceOf: CniError },
  );
  t.is(e?.code, 7);
  t.is(
    e?.message,
    'invalid bridge network configuration: mtu: expected a number, got "big"; ranges[0].subnet: expected a string, got nothing; mode: must be one of "a", "b", got "c"; n: must be at most 10, got 11',
  );
  const frac = t.throws(() => parseWith(s, { mtu: 1.5, ranges: [] }, 'config'), { instanceOf: CniError });
  t.regex(frac!.message, /^invalid config: mtu: expected an integer, got 1\.5$/);
});

test('sortKeysDeep sorts in byte order at every level and keeps a JSON "__proto__" key as an entry', (t) => {
  const sorted = sortKeysDeep(JSON.parse('{"b":1,"a":[{"z":1,"Z":2}],"__proto__":{"x":1}}')) as Record<string, unknown>;
  t.is(JSON.stringify(sorted), '{"__proto__":{"x":1},"a":[{"Z":2,"z":1}],"b":1}');
  t.is(Object.getPrototypeOf(sorted), Object.prototype);
  t.is((sorted as { x?: unknown }).x, undefined);
});
