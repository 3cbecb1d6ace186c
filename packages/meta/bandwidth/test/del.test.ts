// Golden tests of DEL: what it removes (ours and the Go plugin's: same handles, same ifb name), and
// that it succeeds without the netns, without prevResult, after a config change and a second time.
import test from 'ava';
import type { CniError } from '@cni-ts/types';
import { ifbName, makeBandwidth } from '../src/index.js';
import { FakeHost, NETNS, type Scenario, ScriptedExec, context } from './helpers.js';

const IFB = ifbName('bwnet', 'c1');
const PREV = { cniVersion: '1.0.0', interfaces: [{ name: 'veth1' }, { name: 'eth0', sandbox: NETNS }] };
const LINKS: Scenario = {
  pod: { eth0: { ifindex: 2, kind: 'veth', peer: 9 } },
  node: { veth1: { ifindex: 9, kind: 'veth', peer: 2 }, veth2: { ifindex: 10, kind: 'veth', peer: 2 } },
};
const SHAPED: Scenario['tc'] = {
  'qdisc show dev veth1': [
    { kind: 'tbf', handle: '1:', root: true, options: { rate: 125000, limit: 6153, burst_raw: '5c684' } },
    { kind: 'ingress', handle: 'ffff:', parent: 'ffff:fff1', options: {} },
  ],
  'filter show dev veth1 parent ffff:': [
    { protocol: 'all', pref: 1, kind: 'u32', chain: 0 },
    { protocol: 'all', pref: 1, kind: 'u32', options: { fh: '800:[80000000]', ht_divisor: 1 } },
    {
      protocol: 'all',
      pref: 1,
      kind: 'u32',
      options: {
        fh: '800::800[80000800]',
        flowid: '1:1',
        // the Go plugin's filter carries two mirred actions to the ifb (netlink's RedirIndex and Actions)
        actions: [
          { order: 1, kind: 'mirred', mirred_action: 'redirect', direction: 'egress', to_dev: IFB },
          { order: 2, kind: 'mirred', mirred_action: 'redirect', direction: 'egress', to_dev: IFB },
        ],
      },
    },
  ],
};

async function del(
  config: Record<string, unknown>,
  s: Scenario,
  links: string[],
  over: { netns?: string; sysfs?: Record<string, Record<string, string>> } = {},
) {
  // the kernel has the links the host lists (an ifb where the scenario does not say)
  const node = { ...s.node };
  for (const [i, n] of links.entries()) node[n] ??= { ifindex: 100 + i, kind: 'ifb' };
  const exec = new ScriptedExec({ ...s, node });
  let error: CniError | undefined;
  const host = new FakeHost(links, over.sysfs);
  try {
    await makeBandwidth(host).del(context(exec, config, { command: 'DEL', netns: over.netns }));
  } catch (e) {
    error = e as CniError;
  }
  return { lines: exec.lines(), error, listed: host.listed };
}

test('DEL takes the tbf and the ingress qdisc off the veth, then deletes the ifb: four processes', async (t) => {
  const sysfs = { veth1: { ifindex: '9', iflink: '2', mtu: '1500' } };
  const { lines, error, listed } = await del({ prevResult: PREV }, { ...LINKS, tc: SHAPED }, ['veth1', IFB], { sysfs });
  t.is(error, undefined);
  t.is(listed, 0, "the node's list of links (it grows with the pods) is never read");
  t.deepEqual(lines, [
    `nsenter --net=${NETNS} -- ip -d -j -batch - << link show dev eth0`,
    'tc -j -raw -batch - << qdisc show dev veth1 ; filter show dev veth1 parent ffff:',
    'tc -batch - << qdisc del dev veth1 root handle 1: ; qdisc del dev veth1 handle ffff: ingress',
    `ip -j -batch - << link del dev ${IFB}`,
  ]);
});

test("DEL without prevResult finds the veth from the kernel (the peer of eth0 among the node's veths)", async (t) => {
  const { lines, error } = await del({}, { ...LINKS, tc: SHAPED }, ['veth1', 'veth2', IFB]);
  t.is(error, undefined);
  t.is(lines[1], 'ip -d -j -batch - << link show type veth');
  t.is(lines[3], 'tc -batch - << qdisc del dev veth1 root handle 1: ; qdisc del dev veth1 handle ffff: ingress');
});

test('DEL after the sandbox is gone only deletes the ifb (the veth went with the netns)', async (t) => {
  const gone = await del({ prevResult: PREV }, LINKS, ['veth1', IFB], { netns: '/run/netns/cts-gone-away' });
  t.is(gone.error, undefined);
  t.deepEqual(gone.lines, [`ip -j -batch - << link del dev ${IFB}`]);
  // a second time the ifb is not there: DEL asks to delete it (it does not look first) and succeeds
  const twice = await del({ prevResult: PREV }, LINKS, ['veth1'], { netns: '/run/netns/cts-gone-away' });
  t.is(twice.error, undefined);
  t.deepEqual(twice.lines, [`ip -j -batch - << link del dev ${IFB}`]);
});

test('DEL a second time, or of a pod that was never shaped, looks and changes nothing', async (t) => {
  const { lines, error } = await del({ prevResult: PREV }, LINKS, ['veth1']);
  t.is(error, undefined);
  // the pod's interface, the host's (sysfs shows nothing here), the veth's qdiscs, the ifb's deletion (not there)
  t.is(lines.length, 4);
  t.false(lines.some((l) => / del /.test(l) && !l.endsWith(`link del dev ${IFB}`)));
});

test('DEL after a config change that no longer validates still cleans (it reads no limits)', async (t) => {
  const { error, lines } = await del(
    { prevResult: PREV, egressRate: -5, runtimeConfig: { bandwidth: 'x' } },
    { ...LINKS, tc: SHAPED },
    ['veth1', IFB],
  );
  t.is(error, undefined);
  t.is(lines.length, 5);
});

test('DEL with an undecodable prevResult or a pod interface that is gone still deletes the ifb', async (t) => {
  const bad = await del({ prevResult: { interfaces: 'nope' } }, { ...LINKS, tc: SHAPED }, ['veth1', IFB]);
  t.is(bad.error, undefined);
  t.is(bad.lines.at(-1), `ip -j -batch - << link del dev ${IFB}`);
  const noEth0 = await del({ prevResult: PREV }, { ...LINKS, pod: {} }, ['veth1', IFB]);
  t.is(noEth0.error, undefined);
  t.deepEqual(noEth0.lines.slice(1), [`ip -j -batch - << link del dev ${IFB}`]);
});

test("DEL leaves other filters on the veth's ingress: only ours go", async (t) => {
  const tc = {
    ...SHAPED,
    'filter show dev veth1 parent ffff:': [
      ...SHAPED['filter show dev veth1 parent ffff:']!,
      {
        pref: 7,
        kind: 'u32',
        protocol: 'ip',
        options: { fh: '801::800', actions: [{ kind: 'mirred', mirred_action: 'redirect', to_dev: 'eth9' }] },
      },
    ],
  };
  const { lines, listed } = await del({ prevResult: PREV }, { ...LINKS, tc }, ['veth1', 'eth9', IFB]);
  t.is(listed, 1); // to judge the redirect to eth9
  t.is(lines[3], 'tc -batch - << qdisc del dev veth1 root handle 1: ; filter del dev veth1 parent ffff: prio 1');
});

test('DEL takes off an ingress qdisc left without any filter (someone deleted our redirect): it does nothing, and the next ADD needs its handle', async (t) => {
  const tc = { ...SHAPED, 'filter show dev veth1 parent ffff:': [] };
  const { lines, error } = await del({ prevResult: PREV }, { ...LINKS, tc }, ['veth1']);
  t.is(error, undefined);
  t.is(lines.at(-2), 'tc -batch - << qdisc del dev veth1 root handle 1: ; qdisc del dev veth1 handle ffff: ingress');
});

test('DEL reports a tc failure on the veth (code 999, the runtime retries), after deleting the ifb', async (t) => {
  const fail = (c: import('@cni-ts/testutils').Call) =>
    c.file === 'tc' && c.input.startsWith('qdisc del')
      ? { stderr: 'RTNETLINK answers: Permission denied\nCommand failed -:1\n' }
      : undefined;
  const { lines, error } = await del({ prevResult: PREV }, { ...LINKS, tc: SHAPED, fail }, ['veth1', IFB]);
  t.is(error?.code, 999);
  t.regex(error!.message, /remove traffic shaping.*Permission denied/);
  t.is(lines.at(-1), `ip -j -batch - << link del dev ${IFB}`);
});
