// prevResult is decoded only when a handler reads it: a plugin that does not use it never rejects
// it; one that does gets a liberal decode, or a code-6 error naming the field.
import test from 'ava';
import { newResult } from '@cni-ts/types';
import { type Context, prevResultIfValid, withLazyPrevResult } from '../src/index.js';
import { BASE_ENV, recordingPlugin, run } from './helpers.js';

const conf = (v: string, prevResult: unknown) => ({ cniVersion: v, name: 'net1', type: 'rec', prevResult });

const NOT_A_RESULT = [
  ['a string', 'garbage'],
  ['an address without prefix', { ips: [{ address: '10.1.0.5' }] }],
  ['ips that is not a list', { cniVersion: '0.4.0', ips: { address: '10.1.0.5/24' } }],
  ['a cniVersion that is not a version', { cniVersion: 'latest' }],
] as const;

for (const [what, prevResult] of NOT_A_RESULT) {
  for (const command of ['ADD', 'DEL', 'CHECK']) {
    test(`${command} of a plugin that does not read prevResult succeeds with ${what} as prevResult`, async (t) => {
      const { plugin, calls } = recordingPlugin({
        add: (ctx) => {
          calls.push(ctx);
          return newResult({ ips: [{ address: '10.0.0.2/24' }] });
        },
      });
      const r = await run(plugin, { ...BASE_ENV, CNI_COMMAND: command }, conf('0.4.0', prevResult));
      t.is(r.code, 0, r.stdout);
      t.is(calls.length, 1);
    });
  }

  test(`a plugin that reads prevResult gets a code-6 error for ${what}`, async (t) => {
    const { plugin } = recordingPlugin();
    const r = await run(plugin, { ...BASE_ENV, CNI_COMMAND: 'ADD' }, conf('0.4.0', prevResult));
    t.is(r.code, 1);
    t.is(r.json.code, 6);
    t.regex(r.json.msg, /^invalid prevResult: /);
  });
}

test('the code-6 error names the field that is wrong', async (t) => {
  const { plugin } = recordingPlugin();
  const prev = { cniVersion: '1.0.0', ips: [{ address: '10.1.0.5/24' }, { address: '10.1.0.6/24', interface: 'x' }] };
  const r = await run(plugin, { ...BASE_ENV, CNI_COMMAND: 'ADD' }, conf('1.0.0', prev));
  t.is(r.json.code, 6);
  t.regex(r.json.msg, /^invalid prevResult: ips\[1\]\.interface: expected a number, got "x"$/);
});

test('the Go loopback\'s result as libcni re-marshals it (version "") is read by a plugin that uses it', async (t) => {
  const { plugin, calls } = recordingPlugin();
  const prev = {
    cniVersion: '0.3.1',
    interfaces: [{ name: 'lo', mac: '00:00:00:00:00:00', sandbox: '/run/netns/p' }],
    ips: [
      { version: '', interface: 0, address: '127.0.0.1/8' },
      { version: '', interface: 0, address: '::1/128' },
    ],
    dns: {},
  };
  const r = await run(plugin, { ...BASE_ENV, CNI_COMMAND: 'ADD' }, conf('0.3.1', prev));
  t.is(r.code, 0, r.stdout);
  t.deepEqual(calls[0]?.prevResult?.ips, [
    { interface: 0, address: '127.0.0.1/8' },
    { interface: 0, address: '::1/128' },
  ]);
  t.deepEqual(
    r.json.ips.map((i: { version: string }) => i.version),
    ['4', '6'],
  );
});

// the lean reader leaves these to the result schemas, which dispatch loads only then (prev.ts)
test('a prevResult only the schemas read (Go-capitalised keys, 0.2.0) reaches the plugin decoded', async (t) => {
  const cases: Array<[string, unknown, unknown]> = [
    [
      '1.0.0',
      { CNIVersion: '1.0.0', IPs: [{ Address: '10.1.0.5/24', Gateway: '10.1.0.1' }] },
      [{ address: '10.1.0.5/24', gateway: '10.1.0.1' }],
    ],
    ['0.2.0', { cniVersion: '0.2.0', ip4: { ip: '10.1.0.5/24' } }, [{ address: '10.1.0.5/24' }]],
  ];
  for (const [version, prev, ips] of cases) {
    const { plugin, calls } = recordingPlugin();
    const r = await run(plugin, { ...BASE_ENV, CNI_COMMAND: 'ADD' }, conf(version, prev));
    t.is(r.code, 0, r.stdout);
    t.deepEqual(calls[0]?.prevResult?.ips, ips);
  }
});

test('prevResult is decoded once, on first read, and the error is kept', (t) => {
  let decodes = 0;
  const ctx = withLazyPrevResult(baseCtx(), () => {
    decodes++;
    return newResult({ ips: [{ address: '10.0.0.2/24' }] });
  });
  t.is(decodes, 0, 'nothing decoded before a handler reads it');
  t.is(ctx.prevResult, ctx.prevResult);
  t.is(decodes, 1);
  let fails = 0;
  const bad = withLazyPrevResult(baseCtx(), () => {
    fails++;
    throw new Error('bad');
  });
  t.throws(() => bad.prevResult, { message: 'bad' });
  t.throws(() => bad.prevResult, { message: 'bad' });
  t.is(fails, 1);
});

test('prevResultIfValid gives undefined for an undecodable prevResult and says why in the log', (t) => {
  const logs: string[] = [];
  const ctx = withLazyPrevResult({ ...baseCtx(), log: (m) => logs.push(m) }, () => {
    throw new Error('invalid prevResult: ips: expected an array');
  });
  t.is(prevResultIfValid(ctx), undefined);
  t.deepEqual(logs, ['ignoring prevResult: invalid prevResult: ips: expected an array']);
  const ok = withLazyPrevResult(baseCtx(), () => newResult({ ips: [{ address: '10.0.0.2/24' }] }));
  t.is(prevResultIfValid(ok)?.ips?.[0]?.address, '10.0.0.2/24');
});

test('a context whose prevResult is set directly (as tests do) keeps the value', (t) => {
  const ctx = withLazyPrevResult(baseCtx(), () => {
    throw new Error('not decoded');
  });
  const value = newResult({ ips: [{ address: '10.0.0.9/24' }] });
  ctx.prevResult = value;
  t.is(ctx.prevResult, value);
});

function baseCtx(): Omit<Context, 'prevResult'> {
  return {
    command: 'ADD',
    args: { containerId: 'c', netns: '/x', ifname: 'eth0', args: '', path: [], netnsOverride: false },
    conf: { cniVersion: '1.0.0', name: 'n', raw: {} },
    stdin: '{}',
    env: {},
    exec: undefined as never,
    log: () => {},
  };
}
