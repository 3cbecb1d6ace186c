import test from 'ava';
import { CniError, ALL_VERSIONS, newResult } from '@cni-ts/types';
import { ProcessError } from '@cni-ts/process';
import { BASE_ENV, recordingPlugin, run } from './helpers.js';

const conf = (v = '1.0.0', extra: object = {}) => ({ cniVersion: v, name: 'net1', type: 'rec', ...extra });

test('VERSION prints the supported list without reading stdin', async (t) => {
  const { plugin } = recordingPlugin();
  const r = await run(plugin, { CNI_COMMAND: 'VERSION' }, '', {
    readStdin: () => {
      throw new Error('read stdin');
    },
  });
  t.is(r.code, 0);
  t.is(r.stdout, `{"cniVersion":"1.1.0","supportedVersions":${JSON.stringify(ALL_VERSIONS)}}\n`);
});

test('no CNI_COMMAND prints the about text on stderr and exits 0', async (t) => {
  const { plugin } = recordingPlugin();
  const r = await run(plugin, {}, '');
  t.is(r.code, 0);
  t.is(r.stdout, '');
  t.regex(r.stderr, /^CNI rec plugin version unknown\nCNI protocol versions supported: 0\.1\.0, .*1\.1\.0\n$/);
});

test('an unknown CNI_COMMAND is a code-4 error naming it', async (t) => {
  const { plugin } = recordingPlugin();
  const r = await run(plugin, { CNI_COMMAND: 'FOO' }, conf());
  t.is(r.code, 1);
  t.is(r.json.code, 4);
  t.is(r.json.msg, 'unknown CNI_COMMAND: FOO');
});

const required: Array<[string, string[]]> = [
  ['ADD', ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH']],
  ['CHECK', ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH']],
  ['DEL', ['CNI_CONTAINERID', 'CNI_IFNAME', 'CNI_PATH']],
  ['GC', ['CNI_PATH']],
  ['STATUS', ['CNI_PATH']],
];
for (const [cmd, vars] of required) {
  test(`${cmd} names every missing required variable (code 4)`, async (t) => {
    const { plugin } = recordingPlugin();
    const r = await run(plugin, { CNI_COMMAND: cmd }, conf('1.1.0'));
    t.is(r.json.code, 4);
    t.is(r.json.msg, `required env variables [${vars.join(',')}] missing`);
  });
}

test('DEL does not need CNI_NETNS', async (t) => {
  const { plugin, calls } = recordingPlugin();
  const r = await run(plugin, { ...BASE_ENV, CNI_NETNS: undefined, CNI_COMMAND: 'DEL' }, conf());
  t.is(r.code, 0);
  t.is(r.stdout, '');
  t.is(calls[0]?.args.netns, '');
});

test('container ids and interface names are validated (code 4)', async (t) => {
  const { plugin } = recordingPlugin();
  const bad = await run(plugin, { ...BASE_ENV, CNI_COMMAND: 'ADD', CNI_CONTAINERID: '-bad id' }, conf());
  t.deepEqual(bad.json, { code: 4, msg: 'invalid characters in containerID', details: '-bad id' });
  for (const ifname of ['a'.repeat(16), '.', '..', 'eth/0', 'eth:0', 'eth 0']) {
    const r = await run(plugin, { ...BASE_ENV, CNI_COMMAND: 'ADD', CNI_IFNAME: ifname }, conf());
    t.is(r.json?.code, 4, ifname);
    t.regex(r.json.msg, /invalid interface name/);
  }
});

test('malformed JSON is code 6; a missing or bad name is code 7', async (t) => {
  const { plugin } = recordingPlugin();
  const env = { ...BASE_ENV, CNI_COMMAND: 'ADD' };
  t.is((await run(plugin, env, '{"cniVersion":')).json.code, 6);
  t.is((await run(plugin, env, '[1]')).json.code, 6);
  t.is((await run(plugin, env, '')).json.code, 6);
  const noName = await run(plugin, env, { cniVersion: '1.0.0' });
  t.deepEqual([noName.json.code, noName.json.msg], [7, 'missing network name']);
  const badName = await run(plugin, env, { cniVersion: '1.0.0', name: '../etc' });
  t.deepEqual([badName.json.code, badName.json.msg], [7, 'invalid characters found in network name']);
});

test('a missing cniVersion is a clear code-7 error, not a silent 0.1.0', async (t) => {
  const { plugin, calls } = recordingPlugin();
  const r = await run(plugin, { ...BASE_ENV, CNI_COMMAND: 'ADD' }, { name: 'n' });
  t.is(r.json.code, 7);
  t.regex(r.json.msg, /no "cniVersion"/);
  t.regex(r.json.details, /0\.1\.0.*1\.1\.0/);
  t.is(calls.length, 0);
});

test('an unsupported cniVersion is code 1 naming the supported versions', async (t) => {
  const { plugin } = recordingPlugin({ versions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] });
  const r = await run(plugin, { ...BASE_ENV, CNI_COMMAND: 'ADD' }, conf('0.2.0'));
  t.is(r.json.code, 1);
  t.regex(r.json.msg, /config is "0\.2\.0", plugin supports 0\.3\.0, 0\.3\.1, 0\.4\.0, 1\.0\.0, 1\.1\.0/);
  t.is(r.json.details, 'config is "0.2.0", plugin supports ["0.3.0" "0.3.1" "0.4.0" "1.0.0" "1.1.0"]');
  t.is((await run(plugin, { ...BASE_ENV, CNI_COMMAND: 'ADD' }, conf('1.0.0.0'))).json.code, 1);
});

const floors: Array<[string, string, string]> = [
  ['CHECK', '0.3.1', '0.4.0'],
  ['GC', '1.0.0', '1.1.0'],
  ['STATUS', '1.0.0', '1.1.0'],
];
for (const [cmd, below, floor] of floors) {
  test(`${cmd} is refused below ${floor} and accepted at it`, async (t) => {
    const { plugin } = recordingPlugin({ gc: () => {}, status: () => {} });
    const r = await run(plugin, { ...BASE_ENV, CNI_COMMAND: cmd }, conf(below));
    t.deepEqual([r.json.code, r.json.msg], [1, `config version does not allow ${cmd}`]);
    const ok = await run(plugin, { ...BASE_ENV, CNI_COMMAND: cmd }, conf(floor));
    t.is(ok.code, 0);
    t.is(ok.stdout, '');
  });
}

test('GC and STATUS without a handler succeed with no output', async (t) => {
  const { plugin } = recordingPlugin();
  for (const cmd of ['GC', 'STATUS']) {
    const r = await run(plugin, { CNI_PATH: '/x', CNI_COMMAND: cmd }, conf('1.1.0'));
    t.is(r.code, 0, cmd);
    t.is(r.stdout, '');
  }
});

test('ADD prints the result in the config version', async (t) => {
  const { plugin } = recordingPlugin();
  for (const v of ALL_VERSIONS) {
    const r = await run(plugin, { ...BASE_ENV, CNI_COMMAND: 'ADD' }, conf(v));
    t.is(r.code, 0, v);
    t.is(r.json.cniVersion, v);
    if (v === '0.1.0' || v === '0.2.0') t.is(r.json.ip4.ip, '10.0.0.2/24');
    else t.is(r.json.ips[0].address, '10.0.0.2/24');
  }
});

test("an ADD whose result cannot be printed in the config version is undone with the plugin's DEL", async (t) => {
  const verbs: string[] = [];
  const { plugin } = recordingPlugin({
    add: (ctx) => {
      verbs.push(ctx.command);
      return newResult({ interfaces: [{ name: 'eth0' }] });
    },
    del: (ctx) => {
      verbs.push(ctx.command);
    },
  });
  const r = await run(plugin, { ...BASE_ENV, CNI_COMMAND: 'ADD' }, conf('0.2.0'));
  t.is(r.code, 1);
  t.deepEqual([r.json.code, r.json.msg], [1, 'cannot convert result to version 0.2.0: no valid IP addresses']);
  t.deepEqual(verbs, ['ADD', 'DEL']);
  const junk = await run(plugin, { ...BASE_ENV, CNI_COMMAND: 'ADD' }, conf('0.2.0', { prevResult: 'not a result' }));
  t.is(junk.code, 1);
  t.deepEqual(verbs, ['ADD', 'DEL', 'ADD', 'DEL'], 'the undo does not decode a prevResult nobody read');
  const fine = await run(plugin, { ...BASE_ENV, CNI_COMMAND: 'ADD' }, conf('0.3.1'));
  t.is(fine.code, 0);
  t.deepEqual(verbs, ['ADD', 'DEL', 'ADD', 'DEL', 'ADD'], 'a printable result is not undone');
});

test('prevResult of an older version is converted up and passed to the handler', async (t) => {
  const { plugin, calls } = recordingPlugin();
  const prevResult = {
    cniVersion: '0.4.0',
    interfaces: [{ name: 'eth0', sandbox: '/x' }],
    ips: [{ version: '4', interface: 0, address: '10.1.0.9/16' }],
    dns: {},
  };
  const r = await run(plugin, { ...BASE_ENV, CNI_COMMAND: 'ADD' }, conf('1.0.0', { prevResult }));
  t.is(r.code, 0);
  t.deepEqual(calls[0]?.prevResult?.ips, [{ interface: 0, address: '10.1.0.9/16' }]);
  t.is(r.json.cniVersion, '1.0.0');
  t.deepEqual(r.json.ips, [{ address: '10.1.0.9/16', interface: 0 }]);
});

test('a malformed prevResult is a decode error (code 6)', async (t) => {
  const { plugin } = recordingPlugin();
  const r = await run(
    plugin,
    { ...BASE_ENV, CNI_COMMAND: 'ADD' },
    conf('1.0.0', { prevResult: { ips: [{ address: 'nope' }] } }),
  );
  t.is(r.json.code, 6);
  t.regex(r.json.msg, /prevResult/);
});

test('CNI_NETNS equal to our own netns is refused with code 8 before the handler runs', async (t) => {
  const { plugin, calls } = recordingPlugin();
  const r = await run(plugin, { ...BASE_ENV, CNI_COMMAND: 'ADD' }, conf(), { probeNetns: () => 'self' });
  t.is(r.json.code, 8);
  t.is(calls.length, 0);
  const over = await run(plugin, { ...BASE_ENV, CNI_COMMAND: 'ADD', CNI_NETNS_OVERRIDE: 'TRUE' }, conf(), {
    probeNetns: () => 'self',
  });
  t.is(over.code, 0);
});

test('handler errors keep their code; busy tools are 11; anything else is 999 without a stack', async (t) => {
  const cases: Array<[unknown, number]> = [
    [new CniError(7, 'bad range'), 7],
    [new ProcessError('busy', 'iptables-restore', 'xtables lock held'), 11],
    [new ProcessError('failed', 'ip link add', 'ip link add: RTNETLINK answers: Operation not permitted'), 999],
    [new TypeError("Cannot read properties of undefined (reading 'x')"), 999],
  ];
  for (const [err, code] of cases) {
    const { plugin } = recordingPlugin({
      add: () => {
        throw err;
      },
    });
    const r = await run(plugin, { ...BASE_ENV, CNI_COMMAND: 'ADD' }, conf());
    t.is(r.code, 1);
    t.is(r.json.code, code);
    t.is(r.json.msg, (err as Error).message);
    t.notRegex(r.stdout, /\n\s+at /, 'no stack trace');
  }
});

test('CNI_TS_DEBUG=1 puts the stack on stderr; 0, false and empty do not', async (t) => {
  const { plugin } = recordingPlugin({
    add: () => {
      throw new TypeError('boom');
    },
  });
  for (const [value, stack] of [
    ['1', true],
    ['true', true],
    ['0', false],
    ['false', false],
    ['', false],
  ] as const) {
    const r = await run(plugin, { ...BASE_ENV, CNI_COMMAND: 'ADD', CNI_TS_DEBUG: value }, conf());
    t.is(r.json.msg, 'boom');
    t.is(/\n\s+at /.test(r.stderr), stack, `CNI_TS_DEBUG=${JSON.stringify(value)}`);
  }
});

test('config keys skel reads are matched case-insensitively', async (t) => {
  const { plugin, calls } = recordingPlugin();
  const r = await run(
    plugin,
    { ...BASE_ENV, CNI_COMMAND: 'ADD' },
    {
      CNIVersion: '0.4.0',
      Name: 'n1',
      PrevResult: { cniVersion: '0.4.0', ips: [{ version: '4', address: '10.0.0.3/24' }] },
    },
  );
  t.is(r.code, 0);
  t.is(calls[0]?.conf.name, 'n1');
  t.is(calls[0]?.prevResult?.ips?.[0]?.address, '10.0.0.3/24');
});
