import test from 'ava';
import { chmodSync, copyFileSync, linkSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeExecutor } from '@cni-ts/testutils';
import { CniError, ErrorCode, newResult } from '@cni-ts/types';
import {
  type Context,
  DelegateError,
  MAX_DELEGATION_DEPTH,
  type Plugin,
  decodeNetConf,
  delegateAddAsync,
  delegateAsync,
  inProcessPlugin,
  registerInProcess,
  unregisterInProcess,
} from '../src/index.js';

// "self" plays this executable: ipam-x is a hard link to it (in-process), ipam-copy a copy (exec'd),
// nested a hard link named after a plugin that delegates again.
const dir = mkdtempSync(join(tmpdir(), 'cts-inproc-'));
const self = join(dir, 'self');
const bin = join(dir, 'bin');
mkdirSync(bin);
writeFileSync(self, '#!/bin/sh\n');
chmodSync(self, 0o755);
linkSync(self, join(bin, 'ipam-x'));
linkSync(self, join(bin, 'unknown-name'));
linkSync(self, join(bin, 'nested'));
copyFileSync(self, join(bin, 'ipam-copy'));
chmodSync(join(bin, 'ipam-copy'), 0o755);
test.after.always(() => {
  unregisterInProcess();
  rmSync(dir, { recursive: true, force: true });
});

const seen: Array<{ env: Context['env']; stdin: string; command: string }> = [];
type Behaviour = 'ok' | 'cni-error' | 'throws' | 'bad-result';
let behaviour = 'ok' as Behaviour;
const ipamX: Plugin = {
  name: 'ipam-x',
  versions: ['0.4.0', '1.0.0'],
  add: (ctx) => {
    seen.push({ env: ctx.env, stdin: ctx.stdin, command: ctx.command });
    ctx.log('reserving');
    if (behaviour === 'cni-error') throw new CniError(ErrorCode.tryAgainLater, 'store busy', 'try later');
    if (behaviour === 'throws') throw new TypeError('boom');
    if (behaviour === 'bad-result') return { cniVersion: '1.0.0', ips: [{ address: 'nope' }] } as never;
    return newResult({ ips: [{ address: '10.0.0.5/24', gateway: '10.0.0.1' }] });
  },
  del: (ctx) => {
    seen.push({ env: ctx.env, stdin: ctx.stdin, command: ctx.command });
  },
};
const nested: Plugin = {
  name: 'nested',
  versions: ['1.0.0'],
  add: async (ctx) => (await delegateAddAsync(ctx, 'ipam-x', () => {}))!,
  del: () => {},
};
registerInProcess({ 'ipam-x': ipamX, 'ipam-copy': ipamX, nested }, self);

function ctx(exec: FakeExecutor, logs: string[] = []): Context {
  const stdin = JSON.stringify({ cniVersion: '1.0.0', name: 'n', ipam: { type: 'ipam-x' } });
  return {
    command: 'ADD',
    stdin,
    conf: decodeNetConf(stdin),
    exec,
    log: (m) => logs.push(m),
    args: { containerId: 'c', netns: '', ifname: 'eth0', args: '', path: [bin], netnsOverride: false },
    env: {
      CNI_COMMAND: 'ADD',
      CNI_PATH: bin,
      CNI_CONTAINERID: 'c',
      CNI_NETNS: '/run/netns/cts-inproc-none',
      CNI_IFNAME: 'eth0',
      OTHER: 'kept',
    },
  };
}

test.serial(
  'a delegate that is this executable runs in-process with the env and stdin an exec would get',
  async (t) => {
    seen.length = 0;
    behaviour = 'ok';
    const exec = new FakeExecutor();
    const logs: string[] = [];
    const c = ctx(exec, logs);
    const r = await delegateAsync(c, 'ipam-x', 'ADD');
    t.is(r?.ips?.[0]?.address, '10.0.0.5/24');
    t.deepEqual(exec.calls, [], 'nothing was exec’d');
    t.is(seen[0]?.stdin, c.stdin);
    t.deepEqual(seen[0]?.env, { ...c.env, CNI_COMMAND: 'ADD', CNI_TS_DELEGATION_DEPTH: '1' });
    t.deepEqual(logs, ['ipam-x: ipam-x: reserving'], 'its stderr is logged as an exec’d delegate’s is');
    await delegateAsync(c, 'ipam-x', 'DEL');
    t.is(seen[1]?.command, 'DEL');
    t.is(seen[1]?.env.CNI_COMMAND, 'DEL');
  },
);

test.serial('a copy of the executable, an unregistered name or another file is exec’d', async (t) => {
  t.is(inProcessPlugin(join(bin, 'ipam-copy')), undefined, 'another inode');
  t.is(inProcessPlugin(join(bin, 'unknown-name')), undefined, 'a name this executable does not carry');
  t.is(inProcessPlugin(join(bin, 'missing')), undefined);
  t.is(inProcessPlugin(join(bin, 'ipam-x')), ipamX);
  const exec = new FakeExecutor().on((c) => c.file.endsWith('/ipam-copy'), {
    stdout: JSON.stringify({ cniVersion: '1.0.0', ips: [{ address: '10.9.0.9/24' }] }),
  });
  const r = await delegateAsync(ctx(exec), 'ipam-copy', 'ADD');
  t.is(r?.ips?.[0]?.address, '10.9.0.9/24');
  t.deepEqual(
    exec.calls.map((c) => c.file),
    [join(bin, 'ipam-copy')],
  );
});

test.serial('a delegate that delegates again is exec’d at the second level', async (t) => {
  seen.length = 0;
  behaviour = 'ok';
  const exec = new FakeExecutor().on((c) => c.file.endsWith('/ipam-x'), {
    stdout: JSON.stringify({ cniVersion: '1.0.0', ips: [{ address: '10.7.0.7/24' }] }),
  });
  const r = await delegateAsync(ctx(exec), 'nested', 'ADD');
  t.is(r?.ips?.[0]?.address, '10.7.0.7/24');
  t.deepEqual(
    exec.calls.map((c) => c.file),
    [join(bin, 'ipam-x')],
  );
  t.is(seen.length, 0);
});

test.serial('the delegation depth limit holds in-process too: a loop is code 7 before anything runs', async (t) => {
  seen.length = 0;
  behaviour = 'ok';
  const exec = new FakeExecutor();
  const c = ctx(exec);
  c.env = { ...c.env, CNI_TS_DELEGATION_DEPTH: String(MAX_DELEGATION_DEPTH) };
  const e = await t.throwsAsync(delegateAsync(c, 'ipam-x', 'ADD'));
  t.is((e as CniError).code, ErrorCode.invalidConfig);
  t.is(seen.length, 0, 'the delegate did not run');
  t.deepEqual(exec.calls, []);
});

// The outcomes an exec'd delegate has (invoke.test.ts pins them with a fake process): the same
// error codes and the same delegateAdd call-backs.
const OUTCOMES: Array<[Behaviour, boolean, string]> = [
  ['ok', true, 'result 10.0.0.5/24'],
  ['cni-error', false, 'error 11 store busy reported'],
  ['throws', false, 'error 999 boom reported'],
  ['bad-result', true, 'error 6'], // printed, so it may hold state; we cannot decode it
];
for (const [b, called, outcome] of OUTCOMES) {
  test.serial(`in-process delegateAdd, ${b}: ${called ? 'calls' : 'does not call'} back; ${outcome}`, async (t) => {
    behaviour = b;
    const calls: string[] = [];
    try {
      const r = await delegateAddAsync(ctx(new FakeExecutor()), 'ipam-x', () => calls.push('may hold state'));
      calls.push(`result ${r.ips?.[0]?.address}`);
    } catch (e) {
      const err = e as CniError;
      calls.push(
        `error ${err.code}${e instanceof DelegateError ? ` ${err.message} ${e.reported ? 'reported' : ''}` : ''}`.trim(),
      );
    }
    t.deepEqual(calls, [...(called ? ['may hold state'] : []), outcome]);
  });
}

test.serial(
  'a plugin registered as a loader is loaded when its delegate is first run in-process, not before',
  async (t) => {
    seen.length = 0;
    behaviour = 'ok';
    let loads = 0;
    const loader = async () => {
      loads += 1;
      return ipamX;
    };
    registerInProcess({ 'ipam-x': loader, 'ipam-copy': loader, nested }, self);
    t.teardown(() => registerInProcess({ 'ipam-x': ipamX, 'ipam-copy': ipamX, nested }, self));
    t.is(loads, 0, 'registering loads nothing');
    const exec = new FakeExecutor().on((c) => c.file.endsWith('/ipam-copy'), {
      stdout: JSON.stringify({ cniVersion: '1.0.0', ips: [{ address: '10.9.0.9/24' }] }),
    });
    await delegateAsync(ctx(exec), 'ipam-copy', 'ADD');
    t.is(loads, 0, 'a delegate that is exec’d loads nothing');
    const r = await delegateAsync(ctx(exec), 'ipam-x', 'ADD');
    t.is(r?.ips?.[0]?.address, '10.0.0.5/24');
    t.is(loads, 1);
    t.is(seen[0]?.command, 'ADD', 'the loaded plugin ran');
    t.deepEqual(
      exec.calls.map((c) => c.file),
      [join(bin, 'ipam-copy')],
      'the in-process one was not exec’d',
    );
  },
);
