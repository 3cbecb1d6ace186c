// Golden tests of ADD's failures: inputs are checked before the kernel changes, and a failure
// anywhere undoes what ADD did (newest first), leaving nothing behind.
import test from 'ava';
import { CniError } from '@cni-ts/types';
import { IPAM_V4, NODE, POD, VETH, runAdd as add } from './add-fixtures.js';
import { makeBridge } from '../src/index.js';
import { FakeHost, IPAM_DIR, NETNS, ScriptedExec, context } from './helpers.js';

test('an existing bridge with another IPv4 address: code 7 naming both, before any kernel change; the reservation is released', async (t) => {
  const node = { cni0: { ...NODE.cni0, addrs: [['10.99.0.1', 16]] as Array<[string, number]> } };
  const { exec, error } = await add(
    { isGateway: true, ipam: { type: 'host-local' } },
    { node, pod: POD, ipam: IPAM_V4 },
    ['cni0'],
  );
  t.is(error?.code, 7);
  t.is(error?.message, '"cni0" already has an IP address different from 10.22.0.1/24');
  t.regex(error!.details, /10\.99\.0\.1\/16.*forceAddress/);
  t.deepEqual(exec.script(), ['ip -d -j -batch - << addr show dev cni0', 'IPAM ADD', 'IPAM DEL']);
});

test('a link named like the bridge that is not a bridge is refused before IPAM runs', async (t) => {
  const { exec, error } = await add(
    { ipam: { type: 'host-local' } },
    { node: { cni0: { kind: 'dummy' } }, ipam: IPAM_V4 },
    ['cni0'],
  );
  t.is(error?.code, 7);
  t.is(error?.message, '"cni0" already exists but is not a bridge');
  t.deepEqual(exec.script(), ['ip -d -j -batch - << addr show dev cni0']);
});

test('a failure in the pod unwinds: the veth is deleted and the reservation released, no rules are written', async (t) => {
  const { exec, error } = await add(
    { isGateway: true, ipMasq: true, ipam: { type: 'host-local' } },
    {
      node: NODE,
      pod: POD,
      ipam: IPAM_V4,
      fail: (c) =>
        c.file === 'nsenter' && c.input.includes('route add')
          ? { status: 2, stderr: 'Error: Nexthop has invalid gateway.\nCommand failed -:3\n' }
          : undefined,
    },
  );
  t.is(error?.code, 999);
  t.is(
    error?.message,
    `failed to configure eth0 in ${NETNS}: ip route add 0.0.0.0/0 via 10.22.0.1 dev eth0 (in netns ${NETNS}): Error: Nexthop has invalid gateway.`,
  );
  t.deepEqual(exec.script().slice(-2), [`ip -j -batch - << link del dev ${VETH}`, 'IPAM DEL']);
  t.false(exec.script().some((l) => l.includes('iptables')));
});

test('a failure while masquerading unwinds the spoof check, the veth and the reservation, newest first', async (t) => {
  const { exec, error } = await add(
    { ipMasq: true, macspoofchk: true, ipam: { type: 'host-local' } },
    {
      node: NODE,
      pod: POD,
      ipam: IPAM_V4,
      // the fake kernel answers every listing with the state after setup
      nft: {
        'table bridge nat': ['cni-br-iface-ctr1-eth0', 'cni-br-iface-ctr1-eth0-mac'].map((name, handle) => ({
          chain: { family: 'bridge', table: 'nat', name, handle },
        })),
      },
      fail: (c) =>
        c.file === 'iptables-restore' ? { status: 2, stderr: 'iptables-restore: line 2 failed' } : undefined,
    },
  );
  t.is(
    error!.message,
    'failed to set up masquerading: iptables-restore --noflush -w 5: iptables-restore: line 2 failed',
  );
  const tail = exec.script().slice(-6);
  t.deepEqual(
    tail.map((l) => l.split(' << ')[0]),
    [
      'iptables-restore --noflush -w 5', // the chain created without reading the table: refused
      'iptables-save -t nat', // is iptables usable at all? (yes: so the error stands)

      'nft -j list table bridge nat',
      'nft -f -',
      'ip -j -batch -',
      'IPAM DEL',
    ],
  );
  t.is(
    tail[3],
    'nft -f - << flush chain bridge nat cni-br-iface-ctr1-eth0 ; delete chain bridge nat cni-br-iface-ctr1-eth0 ; ' +
      'flush chain bridge nat cni-br-iface-ctr1-eth0-mac ; delete chain bridge nat cni-br-iface-ctr1-eth0-mac',
  );
  t.is(tail[4], `ip -j -batch - << link del dev ${VETH}`);
});

test('a port that never comes up: waited for as long as upstream does (2.55 s), then fails and unwinds', async (t) => {
  const node = { ...NODE, [VETH]: { ...NODE[VETH], operstate: 'DOWN' } };
  const { exec, host, error } = await add({}, { node, pod: POD });
  t.is(error?.message, 'bridge port in error state: DOWN');
  // upstream sleeps 0, 50, 500, 1000, 1000 ms; ours polls the first 50 ms more finely
  t.deepEqual(host.sleeps, [0, 1, 2, 4, 8, 16, 19, 500, 1000, 1000]);
  t.is(
    host.sleeps.reduce((a, b) => a + b, 0),
    2550,
  );
  t.is(exec.script().at(-1), `ip -j -batch - << link del dev ${VETH}`);
});

test('IPv6 DADFAILED is an error that unwinds', async (t) => {
  const pod = { eth0: { ...POD.eth0, addrs: [['fd00:22::2', 64]] as Array<[string, number]> } };
  const { exec, error } = await add(
    { isGateway: true, ipam: { type: 'host-local' } },
    {
      node: NODE,
      pod,
      ipam: { cniVersion: '1.0.0', ips: [{ address: 'fd00:22::2/64' }] },
      fail: (c) =>
        c.file === 'nsenter' && c.input.startsWith('addr add')
          ? {
              status: 0,
              stdout: `${JSON.stringify([
                {
                  ifname: 'eth0',
                  addr_info: [
                    { family: 'inet6', local: 'fd00:22::2', prefixlen: 64, dadfailed: true, tentative: true },
                  ],
                },
              ])}\n`,
              stderr: '',
            }
          : undefined,
    },
  );
  t.regex(error!.message, /eth0 has address fd00:22::2 in DADFAILED state/);
  t.deepEqual(exec.script().slice(-2), [`ip -j -batch - << link del dev ${VETH}`, 'IPAM DEL']);
});

test('IPAM that returns no address is an error and its reservation is released', async (t) => {
  const { exec, error } = await add(
    { ipam: { type: 'host-local' } },
    { node: NODE, pod: POD, ipam: { cniVersion: '1.0.0' } },
  );
  t.is(error?.message, 'IPAM plugin returned missing IP config');
  t.deepEqual(exec.script(), ['IPAM ADD', 'IPAM DEL']);
});

test('a failing IPAM ADD changes nothing and releases nothing', async (t) => {
  const { exec, error } = await add(
    { ipam: { type: 'host-local' } },
    {
      node: NODE,
      pod: POD,
      fail: (_c, verb) =>
        verb === 'ADD'
          ? { status: 1, stdout: '{"code":11,"msg":"no IP addresses available in range set"}', stderr: '' }
          : undefined,
    },
  );
  t.is(error?.code, 11);
  t.deepEqual(exec.script(), ['IPAM ADD']);
});

test('CNI_NETNS that does not exist is code 4 before anything runs', async (t) => {
  const exec = new ScriptedExec({});
  const e = await t.throwsAsync(
    async () => makeBridge(new FakeHost()).add(context(exec, {}, { netns: '/run/netns/cts-no-such-ns' })),
    { instanceOf: CniError },
  );
  t.is(e?.code, 4);
  t.deepEqual(exec.calls, []);
});

for (const cniVersion of ['0.1.0', '0.2.0']) {
  test(`an L2-only network at cniVersion ${cniVersion} is refused (code 1) before anything runs: its result could not be printed`, async (t) => {
    const { exec, error } = await add({ cniVersion }, { node: NODE, pod: POD });
    t.is(error?.code, 1);
    t.is(error?.message, `cannot convert result to version ${cniVersion}: no valid IP addresses`);
    t.regex(error!.details, /L2-only bridge network \(no "ipam"\).*use cniVersion 0\.3\.0 or newer/);
    t.deepEqual(exec.script(), []);
  });
}

for (const [what, answer] of [
  ['not JSON', { status: 0, stdout: 'Reserved 10.22.0.2 (debug output)' }],
  [
    'a result that does not decode',
    { status: 0, stdout: JSON.stringify({ cniVersion: '1.0.0', ips: [{ address: 'x' }] }) },
  ],
  ['a crash without a CNI error', { status: 2, stdout: '', stderr: 'panic: runtime error' }],
] as const) {
  test(`an IPAM answer that is ${what} is released with IPAM DEL before the error returns`, async (t) => {
    const { exec, error } = await add(
      { isGateway: true, ipam: { type: 'host-local' } },
      {
        node: NODE,
        pod: POD,
        fail: (c, verb) => (c.file.startsWith(IPAM_DIR) && verb === 'ADD' ? { stderr: '', ...answer } : undefined),
      },
      ['cni0'],
    );
    t.truthy(error);
    t.deepEqual(exec.script().slice(1), ['IPAM ADD', 'IPAM DEL']);
  });
}

test('an IPAM that reports a CNI error is not sent DEL: it undid its own work, and DEL could free an older reservation', async (t) => {
  const { exec, error } = await add(
    { ipam: { type: 'host-local' } },
    {
      node: NODE,
      fail: (c, verb) =>
        c.file.startsWith(IPAM_DIR) && verb === 'ADD'
          ? { status: 1, stdout: JSON.stringify({ code: 7, msg: 'duplicate allocation is not allowed' }), stderr: '' }
          : undefined,
    },
    ['cni0'],
  );
  t.deepEqual([error?.code, error?.message], [7, 'duplicate allocation is not allowed']);
  t.deepEqual(exec.script().slice(1), ['IPAM ADD']);
});

// The host veth's name is random and not looked up before its creation (that read every link of
// the node): a taken one fails the `link add` with "exists", and then only the name's owner
// decides what happened. FakeHost's counting bytes make the second name drawn vethaeafa0a1.
const VETH2 = 'vethaeafa0a1';
const linkAddExists = (name: string) => (c: { input: string }) =>
  c.input.includes(`link add name ${name} `)
    ? { status: 2, stderr: 'RTNETLINK answers: File exists\nCommand failed -:1\n' }
    : undefined;

test('a host veth name another link has: ADD draws another name, and the other link is never deleted', async (t) => {
  const node = { ...NODE, [VETH2]: { ...NODE[VETH], ifindex: 10 } };
  const { exec, result, error } = await add(
    { ipam: { type: 'host-local' } },
    { node, pod: POD, ipam: IPAM_V4, fail: linkAddExists(VETH) },
    ['cni0', VETH],
  );
  t.is(error, undefined);
  const batches = exec.script().filter((l) => l.includes('type veth peer'));
  t.deepEqual(
    batches.map((l) => /link add name (\S+)/.exec(l)?.[1]),
    [VETH, VETH2],
  );
  t.false(exec.script().some((l) => l.includes('link del')));
  t.is(result?.interfaces?.[1]?.name, VETH2);
});

test('"exists" from the veth creation while no link has its name (the pod has the ifname): an error, nothing deleted on the node', async (t) => {
  const { exec, error } = await add(
    { ipam: { type: 'host-local' } },
    { node: NODE, pod: POD, ipam: IPAM_V4, fail: linkAddExists(VETH) },
    ['cni0'],
  );
  t.is(error?.code, 999);
  t.regex(error!.message, /^failed to set up the bridge port: .*File exists/);
  t.is(exec.script().filter((l) => l.includes('type veth peer')).length, 1, 'no other name tried');
  t.false(exec.script().some((l) => l.includes('link del')));
  t.is(exec.script().at(-1), 'IPAM DEL');
});

test('a failure after the veth was created in the same batch still deletes it', async (t) => {
  const { exec, error } = await add(
    { hairpinMode: true, ipam: { type: 'host-local' } },
    {
      node: NODE,
      pod: POD,
      ipam: IPAM_V4,
      fail: (c) =>
        c.input.includes('type bridge_slave hairpin on')
          ? { status: 2, stderr: 'RTNETLINK answers: Operation not supported\nCommand failed -:2\n' }
          : undefined,
    },
    ['cni0'],
  );
  t.is(error?.code, 999);
  t.deepEqual(exec.script().slice(-2), [`ip -j -batch - << link del dev ${VETH}`, 'IPAM DEL']);
});

test('ten taken host veth names in a row: ADD gives up with the kernel error, deleting none of them', async (t) => {
  class AllTaken extends FakeHost {
    private k = 0;
    override hasLink(name: string) {
      return name.startsWith('veth') || super.hasLink(name);
    }
    // FakeHost's bytes repeat every 16; these do not within the test
    override random(n: number) {
      return Buffer.from(Array.from({ length: n }, () => this.k++ & 0xff));
    }
  }
  const exec = new ScriptedExec({
    node: NODE,
    pod: POD,
    ipam: IPAM_V4,
    fail: (c) =>
      /link add name veth\S+ /.test(c.input)
        ? { status: 2, stderr: 'RTNETLINK answers: File exists\nCommand failed -:1\n' }
        : undefined,
  });
  const error = await t.throwsAsync(
    async () => makeBridge(new AllTaken(['cni0'])).add(context(exec, { ipam: { type: 'host-local' } })),
    { instanceOf: CniError },
  );
  t.regex(error!.message, /^failed to set up the bridge port: .*File exists/);
  const names = exec.script().flatMap((l) => /link add name (veth\S+)/.exec(l)?.[1] ?? []);
  t.is(names.length, 10);
  t.is(new Set(names).size, 10, 'a new name each time');
  t.false(exec.script().some((l) => l.includes('link del')));
  t.is(exec.script().at(-1), 'IPAM DEL');
});
