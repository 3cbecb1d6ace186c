// Golden tests of CHECK: what it reads, and every mismatch it reports.
import test from 'ava';
import { CniError } from '@cni-ts/types';
import { makeBridge } from '../src/index.js';
import { FakeHost, NETNS, type Scenario, ScriptedExec, context } from './helpers.js';

const PREV = {
  cniVersion: '1.0.0',
  interfaces: [
    { name: 'cni0', mac: '02:00:00:00:00:03' },
    { name: 'veth01020304', mac: '02:00:00:00:00:09' },
    { name: 'eth0', mac: '02:00:00:00:00:02', sandbox: NETNS },
  ],
  ips: [{ address: '10.22.0.2/24', interface: 2, gateway: '10.22.0.1' }],
  routes: [{ dst: '0.0.0.0/0', gw: '10.22.0.1' }],
};
const NODE = {
  cni0: { ifindex: 3, kind: 'bridge', mac: '02:00:00:00:00:03' },
  veth01020304: {
    ifindex: 9,
    kind: 'veth',
    mac: '02:00:00:00:00:09',
    master: 'cni0',
    peer: 2,
    slave: { hairpin: false, isolated: false },
  },
};
const POD = {
  eth0: {
    ifindex: 2,
    kind: 'veth',
    mac: '02:00:00:00:00:02',
    peer: 9,
    addrs: [['10.22.0.2', 24]] as Array<[string, number]>,
  },
};
const ROUTES = (c: { input: string }) =>
  c.input.startsWith('route show')
    ? {
        status: 0,
        stderr: '',
        stdout: [
          JSON.stringify([
            { dst: 'default', gateway: '10.22.0.1', dev: 'eth0' },
            { dst: '10.22.0.0/24', dev: 'eth0' },
            { type: 'local', dst: '10.22.0.2', table: 'local', dev: 'eth0' },
          ]),
          '[]',
          JSON.stringify([
            {
              ifindex: 2,
              ifname: 'eth0',
              address: '02:00:00:00:00:02',
              link_index: 9,
              linkinfo: { info_kind: 'veth' },
              addr_info: [{ family: 'inet', local: '10.22.0.2', prefixlen: 24 }],
            },
          ]),
        ].join('\n'),
      }
    : undefined;

async function check(config: Record<string, unknown>, s: Scenario) {
  const exec = new ScriptedExec(s);
  try {
    await makeBridge(new FakeHost()).check!(
      context(exec, { cniVersion: '1.0.0', prevResult: PREV, ...config }, { command: 'CHECK' }),
    );
    return { exec, error: undefined };
  } catch (e) {
    return { exec, error: e as CniError };
  }
}

test('CHECK passes for what ADD set up: IPAM CHECK, one node read, one pod read', async (t) => {
  const { exec, error } = await check({ ipam: { type: 'host-local' } }, { node: NODE, pod: POD, fail: ROUTES });
  t.is(error, undefined);
  t.deepEqual(exec.script(), [
    'IPAM CHECK',
    'ip -d -j -batch - << addr show dev cni0 ; link show dev veth01020304',
    `nsenter --net=${NETNS} -- ip -d -j -batch - << route show table all root 0.0.0.0/0 ; route show table all root ::/0 ; addr show dev eth0`,
  ]);
});

test('an L2-only network passes CHECK without any IPAM plugin (upstream fails: "no plugin name provided")', async (t) => {
  const prev = { ...PREV, ips: undefined, routes: undefined };
  const exec = new ScriptedExec({ node: NODE, pod: POD });
  await makeBridge(new FakeHost()).check!(context(exec, { prevResult: prev }, { command: 'CHECK' }));
  t.false(exec.script().some((l) => l.startsWith('IPAM')));
});

test('CHECK reports every difference at once with code 100', async (t) => {
  const node = {
    cni0: { ...NODE.cni0, flags: ['UP', 'PROMISC'] },
    veth01020304: { ...NODE.veth01020304, slave: { hairpin: true } },
  };
  const wrongRoutes = (c: { input: string }) =>
    c.input.startsWith('route show')
      ? {
          status: 0,
          stderr: '',
          stdout: `[]\n[]\n${JSON.stringify([{ ifindex: 2, ifname: 'eth0', address: '02:00:00:00:00:99', link_index: 9, linkinfo: { info_kind: 'veth' }, addr_info: [] }])}\n`,
        }
      : undefined;
  const { error } = await check({}, { node, pod: POD, fail: wrongRoutes });
  t.is(error?.code, 100);
  t.is(
    error?.message,
    'bridge CHECK failed: bridge interface cni0 promiscuous mode is true, the config says false; ' +
      "interface eth0 MAC 02:00:00:00:00:99 doesn't match 02:00:00:00:00:02; hairpin mode of veth01020304 is true, the config says false; " +
      'failed to match addr 10.22.0.2/24 on interface eth0; expected route 0.0.0.0/0 via 10.22.0.1 not found in routing table',
  );
});

test("CHECK reads the bridge's ports that prevResult names; when one is gone, every port, as before", async (t) => {
  const { exec, error } = await check({}, { node: { cni0: NODE.cni0 }, pod: POD, fail: ROUTES });
  t.deepEqual(exec.script().slice(0, 2), [
    'ip -d -j -batch - << addr show dev cni0 ; link show dev veth01020304',
    'ip -d -j -batch - << addr show dev cni0 ; link show master cni0',
  ]);
  t.is(error?.message, 'bridge CHECK failed: CNI veth created for bridge cni0 was not found');
  // a named link that is on another bridge is not a port of this one
  const other = { ...NODE, veth01020304: { ...NODE.veth01020304, master: 'cni9' } };
  const r = await check({}, { node: other, pod: POD, fail: ROUTES });
  t.is(r.error?.message, 'bridge CHECK failed: CNI veth created for bridge cni0 was not found');
});

test("CHECK fails when the host veth is not the container's peer on the bridge", async (t) => {
  const node = { ...NODE, veth01020304: { ...NODE.veth01020304, peer: 77 } };
  const { error } = await check({}, { node, pod: POD, fail: ROUTES });
  t.is(error?.message, 'bridge CHECK failed: CNI veth created for bridge cni0 was not found');
});

test('CHECK with ipMasq and macspoofchk also reads the rules', async (t) => {
  const { exec, error } = await check(
    { ipMasq: true, macspoofchk: true, ipam: { type: 'host-local' } },
    { node: NODE, pod: POD, fail: ROUTES, nft: { 'table bridge nat': [] } },
  );
  t.deepEqual(exec.script().slice(3), ['nft -j list table bridge nat', 'iptables-save -t nat']);
  t.regex(
    error!.message,
    /no PREROUTING rule sends veth01020304 .* chain CNI-ee871de47c845415462ccc60 is missing from the nat table$/,
  );
});

test('CHECK without prevResult, or with a missing bridge, is an error', async (t) => {
  const exec = new ScriptedExec({});
  const e = await t.throwsAsync(
    async () => makeBridge(new FakeHost()).check!(context(exec, {}, { command: 'CHECK' })),
    { instanceOf: CniError },
  );
  t.is(e?.message, 'Required prevResult missing');
  const { error } = await check({}, { node: {}, pod: POD, fail: ROUTES });
  t.regex(error!.message, /^bridge CHECK failed: bridge cni0 in the host namespace was not found/);
});
