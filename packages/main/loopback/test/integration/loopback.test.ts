// Root integration tests of dist/bin/loopback in throwaway namespaces, for every cniVersion, on
// both of its paths: rtnetlink requests written in place (the default) and `ip -batch` through
// nsenter (CNI_TS_NETLINK=0).
import anyTest, { type TestFn } from 'ava';
import { ALL_VERSIONS } from '@cni-ts/types';
import { type Netns, TestNode, execPlugin, ourPlugin, rootTest, uniquePrefix } from '@cni-ts/testutils';

const test = rootTest(anyTest as TestFn<{ node: TestNode }>, 'loopback integration');
const plugin = ourPlugin('loopback');
const conf = (v: string) => ({ cniVersion: v, name: 'lo-net', type: 'loopback' });
const PATHS = [
  ['rtnetlink', {}],
  ['ip -batch', { CNI_TS_NETLINK: '0' }],
] as const;

test.beforeEach(async (t) => {
  t.context.node = await TestNode.create(uniquePrefix('lo'));
});
test.afterEach.always(async (t) => {
  await t.context.node?.destroy();
});

async function loState(ns: Netns): Promise<{ up: boolean; addrs: string[] }> {
  const [lo] = await ns.ipJson<any[]>(['addr', 'show', 'dev', 'lo']);
  return { up: lo.flags.includes('UP'), addrs: (lo.addr_info ?? []).map((a: any) => `${a.local}/${a.prefixlen}`) };
}

for (const [path, env] of PATHS)
  for (const v of ALL_VERSIONS) {
    test(`${path}: ADD, CHECK and DEL of cniVersion ${v} in a pod netns`, async (t) => {
      const { node } = t.context;
      const pod = await node.addPod('p', { loUp: false });
      t.false((await loState(pod)).up);
      const call = {
        plugin,
        config: conf(v),
        containerId: 'ctr-lo',
        netns: pod.path,
        ifname: 'eth0',
        inNetns: node.node.name,
        env,
      };

      const add = await execPlugin({ ...call, command: 'ADD' });
      t.is(add.exitCode, 0, add.stdout + add.stderr);
      t.is(add.json.cniVersion, v);
      const state = await loState(pod);
      t.true(state.up);
      if (v === '0.1.0' || v === '0.2.0') {
        t.deepEqual(add.json, { cniVersion: v, ip4: { ip: '127.0.0.1/8' }, ip6: { ip: '::1/128' }, dns: {} });
      } else {
        t.deepEqual(add.json.interfaces, [{ name: 'lo', mac: '00:00:00:00:00:00', sandbox: pod.path }]);
        t.deepEqual(
          add.json.ips.map((i: any) => [i.address, i.interface]),
          [
            ['127.0.0.1/8', 0],
            ['::1/128', 0],
          ],
        );
        t.deepEqual(state.addrs, ['127.0.0.1/8', '::1/128']);
      }

      const check = await execPlugin({ ...call, command: 'CHECK', config: { ...conf(v), prevResult: add.json } });
      if (v === '0.1.0' || v === '0.2.0' || v === '0.3.0' || v === '0.3.1') {
        t.is(check.json?.code, 1, 'CHECK needs 0.4.0');
      } else {
        t.is(check.exitCode, 0, check.stdout);
      }

      const del = await execPlugin({ ...call, command: 'DEL' });
      t.is(del.exitCode, 0, del.stdout);
      t.is(del.stdout, '');
      t.false((await loState(pod)).up);

      if (v === '0.4.0' || v.startsWith('1.')) {
        const after = await execPlugin({ ...call, command: 'CHECK', config: { ...conf(v), prevResult: add.json } });
        t.is(after.exitCode, 1);
        t.deepEqual([after.json.code, after.json.msg], [100, 'loopback interface is down']);
      }
    });
  }

for (const [path, env] of PATHS)
  for (const upBefore of [false, true])
    test(`${path}: an ADD refused for a non-loopback address on lo leaves lo ${upBefore ? 'up' : 'down'}, as it found it`, async (t) => {
      const { node } = t.context;
      const pod = await node.addPod('foreign', { loUp: upBefore });
      await pod.exec('ip', ['addr', 'add', '10.9.9.9/8', 'dev', 'lo']);
      const r = await execPlugin({
        plugin,
        command: 'ADD',
        config: conf('1.0.0'),
        containerId: 'ctr-foreign',
        netns: pod.path,
        ifname: 'eth0',
        inNetns: node.node.name,
        env,
      });
      t.is(r.exitCode, 1);
      t.deepEqual(r.json, {
        code: 999,
        msg: 'loopback interface found with non-loopback address "10.9.9.9"',
        details: `the namespace ${pod.path} is not a fresh sandbox; its lo carries 10.9.9.9/8`,
      });
      const lo = await loState(pod);
      t.is(lo.up, upBefore, upBefore ? 'lo is still up' : 'lo is down again');
      t.true(lo.addrs.includes('10.9.9.9/8'), 'its address is left alone');
    });

for (const [path, env] of PATHS)
  test(`${path}: DEL succeeds with an empty CNI_NETNS, a netns that is gone, a config that changed, and repeated`, async (t) => {
    const { node } = t.context;
    const pod = await node.addPod('gone');
    const base = {
      plugin,
      command: 'DEL',
      // keys loopback does not use, with values no plugin would accept, do not stop its DEL
      config: { ...conf('1.1.0'), mtu: 'big', ipam: 5, ipMasqBackend: 'nope' },
      containerId: 'ctr-gone',
      ifname: 'eth0',
      inNetns: node.node.name,
      env,
    };
    t.is((await execPlugin({ ...base, netns: '' })).exitCode, 0);
    t.is((await execPlugin({ ...base, netns: pod.path })).exitCode, 0);
    t.is((await execPlugin({ ...base, netns: pod.path })).exitCode, 0);
    await node.removePod(pod);
    const r = await execPlugin({ ...base, netns: pod.path });
    t.is(r.exitCode, 0, r.stdout);
    t.is(r.stdout, '');
  });

for (const [path, env] of PATHS)
  test(`${path}: ADD into a netns that does not exist is code 4; into its own netns is code 8`, async (t) => {
    const { node } = t.context;
    const base = {
      plugin,
      command: 'ADD',
      config: conf('1.0.0'),
      containerId: 'c',
      ifname: 'eth0',
      inNetns: node.node.name,
      env,
    };
    const missing = await execPlugin({ ...base, netns: `/run/netns/${node.prefix}-nope` });
    t.deepEqual([missing.exitCode, missing.json?.code], [1, 4]);
    const self = await execPlugin({ ...base, netns: node.node.path });
    t.deepEqual([self.exitCode, self.json?.code], [1, 8]);
    t.regex(self.json.msg, /should not be the same/);
    // the node's own lo was not touched
    t.true((await loState(node.node)).up);
  });
