import test from 'ava';
import { chmodSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeExecutor } from '@cni-ts/testutils';
import { ProcessError } from '@cni-ts/process';
import { CniError } from '@cni-ts/types';
import { type Context, MAX_DELEGATION_DEPTH, decodeNetConf, delegate, delegateAdd, findInPath } from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'cts-invoke-'));
const bin = join(dir, 'bin');
mkdirSync(bin);
writeFileSync(join(bin, 'ipam-x'), '#!/bin/sh\n');
chmodSync(join(bin, 'ipam-x'), 0o755);
writeFileSync(join(bin, 'not-exec'), '');
mkdirSync(join(bin, 'a-dir'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

function ctx(exec: FakeExecutor, version = '1.0.0'): Context {
  const stdin = JSON.stringify({ cniVersion: version, name: 'n', ipam: { type: 'ipam-x' } });
  return {
    command: 'ADD',
    stdin,
    conf: decodeNetConf(stdin),
    exec,
    log: () => {},
    args: {
      containerId: 'c',
      netns: '/x',
      ifname: 'eth0',
      args: 'IgnoreUnknown=1',
      path: ['/nonexistent', bin],
      netnsOverride: false,
    },
    env: { CNI_COMMAND: 'ADD', CNI_PATH: `/nonexistent:${bin}`, OTHER: 'kept' },
  };
}

test('findInPath finds regular executable files only and names the path on failure', (t) => {
  t.is(findInPath('ipam-x', ['/nonexistent', bin]), join(bin, 'ipam-x'));
  for (const name of ['not-exec', 'a-dir', 'missing']) {
    const e = t.throws(() => findInPath(name, [bin]), { instanceOf: CniError });
    t.is(e?.code, 7);
    t.regex(e!.message, new RegExp(`failed to find plugin "${name}" in path`));
  }
  t.is(t.throws(() => findInPath('', [bin]))?.message, 'no plugin name provided');
  t.regex(t.throws(() => findInPath('../x', [bin]))!.message, /cannot contain/);
});

test('delegate runs the plugin with our env (CNI_COMMAND replaced) and the same stdin', (t) => {
  const exec = new FakeExecutor().on(() => true, {
    stdout: JSON.stringify({ cniVersion: '1.0.0', ips: [{ address: '10.0.0.5/24', gateway: '10.0.0.1' }] }),
  });
  const c = ctx(exec);
  const r = delegate(c, 'ipam-x', 'ADD');
  t.deepEqual(r?.ips, [{ address: '10.0.0.5/24', gateway: '10.0.0.1' }]);
  t.is(exec.calls[0]?.file, join(bin, 'ipam-x'));
  t.is(exec.calls[0]?.input, c.stdin);
});

test('delegate passes the environment through', (t) => {
  let seen: Record<string, string | undefined> | undefined;
  const exec = new FakeExecutor();
  const orig = exec.run.bind(exec);
  exec.run = (f, a, o) => {
    seen = o?.env;
    return orig(f, a, o);
  };
  delegate(ctx(exec), 'ipam-x', 'DEL');
  t.is(seen?.CNI_COMMAND, 'DEL');
  t.is(seen?.OTHER, 'kept');
});

test("a delegate's CNI error comes back with its own code", (t) => {
  const exec = new FakeExecutor().on(() => true, {
    status: 1,
    stdout: JSON.stringify({ code: 11, msg: 'store locked', details: 'd' }),
  });
  const e = t.throws(() => delegate(ctx(exec), 'ipam-x', 'ADD'), { instanceOf: CniError });
  t.deepEqual(e?.toJSON(), { code: 11, msg: 'store locked', details: 'd' });
});

test('a delegate that fails without a CNI error is 999 with its stderr', (t) => {
  const exec = new FakeExecutor().on(() => true, { status: 2, stderr: 'segfault' });
  const e = t.throws(() => delegate(ctx(exec), 'ipam-x', 'ADD'), { instanceOf: CniError });
  t.is(e?.code, 999);
  t.regex(e!.message, /ipam-x ADD failed with exit status 2: segfault/);
});

test('a delegate result without cniVersion is read in the config version', (t) => {
  const exec = new FakeExecutor().on(() => true, { stdout: JSON.stringify({ ip4: { ip: '10.0.0.7/8' } }) });
  const r = delegate(ctx(exec, '0.2.0'), 'ipam-x', 'ADD');
  t.deepEqual(r?.ips, [{ address: '10.0.0.7/8' }]);
});

const GOOD = JSON.stringify({ cniVersion: '1.0.0', ips: [{ address: '10.0.0.5/24' }] });
type Answer = { status?: number; stdout?: string; stderr?: string } | 'timeout';
const ANSWERS: Array<[string, Answer, boolean, string]> = [
  ['a result', { stdout: GOOD }, true, 'result 10.0.0.5/24'],
  ['output that is not JSON', { stdout: 'reserved 10.0.0.5' }, true, 'error 6'],
  ['a result that does not decode', { stdout: JSON.stringify({ ips: [{ address: 'nope' }] }) }, true, 'error 6'],
  ['an exit without a CNI error (a crash)', { status: 2, stderr: 'panic' }, true, 'error 999'],
  ['no answer in time (killed)', 'timeout', true, 'error 999'],
  [
    'a CNI error (it undid its own work)',
    { status: 1, stdout: JSON.stringify({ code: 11, msg: 'busy' }) },
    false,
    'error 11',
  ],
];
for (const [what, answer, called, outcome] of ANSWERS) {
  test(`delegateAdd: ${what} ${called ? 'calls' : 'does not call'} back before the answer is decoded`, (t) => {
    const exec = new FakeExecutor();
    exec.run = () => {
      if (answer === 'timeout') throw new ProcessError('timeout', 'ipam-x', 'ipam-x: timed out after 120000 ms');
      return { status: 0, stdout: '', stderr: '', ...answer };
    };
    const seen: string[] = [];
    try {
      const r = delegateAdd(ctx(exec), 'ipam-x', () => seen.push('may hold state'));
      seen.push(`result ${r.ips?.[0]?.address}`);
    } catch (e) {
      seen.push(`error ${(e as CniError).code}`);
    }
    t.deepEqual(seen, [...(called ? ['may hold state'] : []), outcome]);
  });
}

test('delegateAdd of a plugin that is not on CNI_PATH never calls back', (t) => {
  const seen: string[] = [];
  t.throws(() => delegateAdd(ctx(new FakeExecutor()), 'missing', () => seen.push('x')), { instanceOf: CniError });
  t.deepEqual(seen, []);
});

test('delegation nests at most MAX_DELEGATION_DEPTH deep: a loop ("ipam": {"type": "bridge"}) is code 7, not a fork bomb', (t) => {
  let seen: Record<string, string | undefined> | undefined;
  const exec = new FakeExecutor();
  const orig = exec.run.bind(exec);
  exec.run = (f, a, o) => {
    seen = o?.env;
    return orig(f, a, o);
  };
  delegate(ctx(exec), 'ipam-x', 'DEL');
  t.is(seen?.CNI_TS_DELEGATION_DEPTH, '1', 'the delegate learns how deep it runs');
  const deep = ctx(exec);
  deep.env = { ...deep.env, CNI_TS_DELEGATION_DEPTH: String(MAX_DELEGATION_DEPTH) };
  const before = exec.calls.length;
  const e = t.throws(() => delegate(deep, 'ipam-x', 'ADD'), { instanceOf: CniError });
  t.is(e?.code, 7);
  t.regex(e!.message, /delegat.*loop/);
  t.is(exec.calls.length, before, 'nothing was run');
});
