import test from 'ava';
import { FakeExecutor } from '@cni-ts/testutils';
import { type Context, decodeNetConf, withLazyPrevResult } from '@cni-ts/skel';
import { CniError } from '@cni-ts/types';
import { loopback } from '../src/index.js';

// /proc/self/ns/net always exists, so requireNetns passes without root.
const NETNS = '/proc/self/ns/net';

function ctx(exec: FakeExecutor, over: Partial<Context> = {}): Context {
  const stdin = JSON.stringify({ cniVersion: '1.0.0', name: 'lo-net', type: 'loopback' });
  return {
    command: 'ADD',
    stdin,
    conf: decodeNetConf(stdin),
    exec,
    log: () => {},
    env: {},
    args: { containerId: 'c1', netns: NETNS, ifname: 'lo', args: '', path: [], netnsOverride: false },
    ...over,
  };
}

const loShow = (addrs: object[], flags = ['LOOPBACK', 'UP']) =>
  `${JSON.stringify([{ ifname: 'lo', flags, addr_info: addrs }])}\n`;
/** What ADD's batch prints: lo before (down unless `upBefore`), then lo's addresses after `link set lo up`. */
const addOut = (addrs: object[], upBefore = false) =>
  `${loShow([], upBefore ? ['LOOPBACK', 'UP'] : ['LOOPBACK'])}${loShow(addrs)}`;
const V4 = { family: 'inet', local: '127.0.0.1', prefixlen: 8 };
const V6 = { family: 'inet6', local: '::1', prefixlen: 128 };

test('ADD brings lo up and reads its addresses in one ip process inside the netns', async (t) => {
  const exec = new FakeExecutor().on(() => true, { stdout: addOut([V4, V6]) });
  const r = await loopback.add(ctx(exec));
  t.deepEqual(exec.lines(), [
    `nsenter --net=${NETNS} -- ip -j -batch - << addr show dev lo ; link set lo up ; addr show dev lo`,
  ]);
  t.deepEqual(r.interfaces, [{ name: 'lo', mac: '00:00:00:00:00:00', sandbox: NETNS }]);
  t.deepEqual(r.ips, [
    { interface: 0, address: '127.0.0.1/8' },
    { interface: 0, address: '::1/128' },
  ]);
});

test('ADD without IPv6 on lo returns the IPv4 address only', async (t) => {
  const exec = new FakeExecutor().on(() => true, { stdout: addOut([V4]) });
  t.deepEqual((await loopback.add(ctx(exec))).ips, [{ interface: 0, address: '127.0.0.1/8' }]);
});

test('ADD passes prevResult through unchanged', async (t) => {
  const exec = new FakeExecutor().on(() => true, { stdout: addOut([V4, V6]) });
  const prevResult = {
    cniVersion: '1.0.0',
    ips: [{ address: '10.1.0.4/24', interface: 0 }],
    interfaces: [{ name: 'eth0' }],
  };
  t.is(await loopback.add(ctx(exec, { prevResult })), prevResult);
});

test('ADD with a prevResult that is not a result fails (code 6) before lo is touched', async (t) => {
  const exec = new FakeExecutor().on(() => true, { stdout: addOut([V4, V6]) });
  const c = withLazyPrevResult(ctx(exec), () => {
    throw new CniError(6, 'invalid prevResult: expected a JSON object, got true');
  });
  const e = await t.throwsAsync(async () => loopback.add(c), { instanceOf: CniError });
  t.is(e?.code, 6);
  t.deepEqual(exec.lines(), [], 'no ip ran');
});

for (const upBefore of [false, true]) {
  test(`ADD refuses a lo that carries a non-loopback address and leaves lo ${upBefore ? 'up, as it was' : 'down again'}`, async (t) => {
    const exec = new FakeExecutor().on((c) => c.input.includes('show'), {
      stdout: addOut([V4, { family: 'inet', local: '10.0.0.1', prefixlen: 8 }], upBefore),
    });
    const e = await t.throwsAsync(async () => loopback.add(ctx(exec)), { instanceOf: CniError });
    t.regex(e!.message, /non-loopback address "10\.0\.0\.1"/);
    t.deepEqual(
      exec.lines().slice(1),
      upBefore ? [] : [`nsenter --net=${NETNS} -- ip -j -batch - << link set lo down`],
    );
  });
}

test('ADD into a netns path that does not exist is a code-4 error naming it', async (t) => {
  const exec = new FakeExecutor();
  const e = await t.throwsAsync(
    async () => loopback.add(ctx(exec, { args: { ...ctx(exec).args, netns: '/run/netns/no-such-ns' } })),
    { instanceOf: CniError },
  );
  t.is(e?.code, 4);
  t.regex(e!.message, /CNI_NETNS "\/run\/netns\/no-such-ns" does not exist/);
  t.is(exec.calls.length, 0);
});

test('DEL sets lo down; with no netns, or a netns that is gone, it does nothing and succeeds', async (t) => {
  const exec = new FakeExecutor();
  await loopback.del(ctx(exec));
  t.deepEqual(exec.lines(), [`nsenter --net=${NETNS} -- ip -j -batch - << link set lo down`]);
  const none = new FakeExecutor();
  await loopback.del(ctx(none, { args: { ...ctx(none).args, netns: '' } }));
  await loopback.del(ctx(none, { args: { ...ctx(none).args, netns: '/run/netns/gone-away' } }));
  await loopback.del(ctx(none, { args: { ...ctx(none).args, netns: '/etc/hostname' } }));
  t.is(none.calls.length, 0);
});

test('CHECK passes when lo is up and fails with code 100 when it is down', async (t) => {
  const up = new FakeExecutor().on(() => true, { stdout: loShow([], ['LOOPBACK', 'UP', 'LOWER_UP']) });
  await t.notThrowsAsync(async () => loopback.check!(ctx(up)));
  const down = new FakeExecutor().on(() => true, { stdout: loShow([], ['LOOPBACK']) });
  const e = await t.throwsAsync(async () => loopback.check!(ctx(down)), { instanceOf: CniError });
  t.is(e?.code, 100);
  t.is(e?.message, 'loopback interface is down');
});
