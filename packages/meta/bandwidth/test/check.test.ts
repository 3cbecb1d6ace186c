// CHECK against kernel state: ours, the Go plugin's for the same input, and what must fail. The
// qdisc values are those `tc -j -raw qdisc show` printed here after each plugin's ADD.
import test from 'ava';
import type { CniError } from '@cni-ts/types';
import { ifbName, makeBandwidth } from '../src/index.js';
import { FakeHost, NETNS, type Scenario, ScriptedExec, context } from './helpers.js';

const IFB = ifbName('bwnet', 'c1');
const PREV = { cniVersion: '1.0.0', interfaces: [{ name: 'veth1' }, { name: 'eth0', sandbox: NETNS }] };
const LINKS: Scenario = {
  pod: { eth0: { ifindex: 2, kind: 'veth', peer: 9 } },
  node: { veth1: { ifindex: 9, kind: 'veth', peer: 2 } },
};
const CRI_1M = { IngressRate: 1e6, IngressBurst: 4294967295, EgressRate: 1e6, EgressBurst: 4294967295 };

const tbf = (rate: number, limit: number, buffer: number) => ({
  kind: 'tbf',
  handle: '1:',
  root: true,
  options: { rate, limit, burst_raw: buffer.toString(16) },
});
const INGRESS = { kind: 'ingress', handle: 'ffff:', parent: 'ffff:fff1', options: {} };
const REDIRECT = {
  kind: 'u32',
  pref: 1,
  protocol: 'all',
  options: { fh: '800::800', flowid: '1:1', actions: [{ kind: 'mirred', mirred_action: 'redirect', to_dev: IFB }] },
};
const state = (veth: object[], ifb: object[], filters: object[] = [REDIRECT]): Scenario => ({
  ...LINKS,
  tc: {
    'qdisc show dev veth1': veth,
    'filter show dev veth1 parent ffff:': filters,
    [`qdisc show dev ${IFB}`]: ifb,
  },
});

async function check(config: Record<string, unknown>, s: Scenario, links = ['veth1', IFB]) {
  let error: CniError | undefined;
  try {
    await makeBandwidth(new FakeHost(links)).check!(
      context(new ScriptedExec(s), { prevResult: PREV, ...config }, { command: 'CHECK' }),
    );
  } catch (e) {
    error = e as CniError;
  }
  return error;
}

// ours for containerd's 1M pod: 1 Mbit/s with a 3028-byte burst (24224 µs = 378500 ticks)
const OURS_1M = tbf(125000, 9084, 378500);
// the Go plugin's for the same input: burst 536870911 B, its buffer wrapped around u32
const GO_1M = tbf(125000, 536874036, 0x9fffff83);

test('CHECK passes on what our ADD made, and on what the Go plugin made for the same input', async (t) => {
  t.is(await check({ runtimeConfig: { bandwidth: CRI_1M } }, state([OURS_1M, INGRESS], [OURS_1M])), undefined);
  t.is(await check({ runtimeConfig: { bandwidth: CRI_1M } }, state([GO_1M, INGRESS], [GO_1M])), undefined);
  // an explicit 3 Mbit/s / 8000-bit limit: Go's buffer (41656) and the one tc's burst gives (41666)
  const limits = { ingressRate: 3_000_000, ingressBurst: 8000 };
  t.is(await check(limits, state([tbf(375000, 10375, 0xa2b8)], [])), undefined);
  t.is(await check(limits, state([tbf(375000, 10375, 0xa2c2)], [])), undefined);
});

test('CHECK fails with code 100 and says what differs', async (t) => {
  const limits = { runtimeConfig: { bandwidth: CRI_1M } };
  const cases: Array<[Scenario, RegExp, string[]?]> = [
    [state([tbf(250000, 6153, 378500), INGRESS], [OURS_1M]), /the tbf on host veth veth1 does not match/],
    [state([OURS_1M, INGRESS], [tbf(125000, 9084, 378501)]), /the tbf on ifb bwp\w+ does not match/],
    [state([INGRESS], [OURS_1M]), /no tbf qdisc 1: at the root of host veth veth1/],
    [state([OURS_1M], [OURS_1M]), /no ingress qdisc ffff: on host veth veth1/],
    [state([OURS_1M, INGRESS], [OURS_1M], []), /no filter on veth1 redirects to bwp/],
    [state([OURS_1M, INGRESS], [OURS_1M]), /ifb device bwp\w+ is missing/, ['veth1']],
  ];
  for (const [s, re, links] of cases) {
    const e = await check(limits, s, links);
    t.is(e?.code, 100, String(re));
    t.regex(e!.message, re);
  }
});

test('CHECK needs prevResult and the veth peer', async (t) => {
  let e: CniError | undefined;
  try {
    await makeBandwidth(new FakeHost(['veth1'])).check!(
      context(new ScriptedExec(LINKS), { ingressRate: 8, ingressBurst: 8 }, { command: 'CHECK' }),
    );
  } catch (err) {
    e = err as CniError;
  }
  t.is(e?.code, 7);
  t.regex(e!.message, /must be called as a chained plugin/);
});
