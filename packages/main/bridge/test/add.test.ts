// Golden tests of ADD: the exact processes (and their stdin) for each kind of network, and that
// a failure anywhere undoes what ADD did.
import test from 'ava';
import { type Rtnl, sysctlShellArgs } from '@cni-ts/process';
import { IPAM_V4, NODE, POD, VETH, runAdd as add } from './add-fixtures.js';
import { makeBridge } from '../src/index.js';
import { FakeHost, NETNS, ScriptedExec, context } from './helpers.js';

const IPAM_DUAL = {
  cniVersion: '1.0.0',
  ips: [{ address: '10.22.0.2/24', gateway: '10.22.0.1' }, { address: 'fd00:22::2/64' }],
};
const SH = `sh ${sysctlShellArgs([]).slice(0, 3).join(' ')}`; // the sysctl-writing script (pinned in packages/process)
const READ_BACK = 'ip -d -j -batch - << addr show dev vetha0a1a2a3 ; addr show dev cni0';
const C = '"name: \\"podnet\\" id: \\"ctr1\\""';
const CHAIN = 'CNI-ee871de47c845415462ccc60';

test('ADD on a fresh node: IPAM, bridge, one node batch, one pod process (sysctls + batch), read-back, one iptables-restore that creates the chain without reading the table', async (t) => {
  const { exec, host, result, error } = await add(
    { isGateway: true, ipMasq: true, ipam: { type: 'host-local' } },
    { node: NODE, pod: POD, ipam: IPAM_V4 },
  );
  t.is(error, undefined);
  t.deepEqual(exec.script(), [
    'IPAM ADD',
    'ip -j -batch - << link add name cni0 address aa:a9:aa:ab:ac:ad type bridge',
    `ip -j -batch - << link set dev cni0 up ; link add name ${VETH} up master cni0 type veth peer name eth0 netns ${NETNS}`,
    'ip -j -batch - << addr add 10.22.0.1/24 broadcast + dev cni0',
    `nsenter --net=${NETNS} -- ${SH} /proc/sys/net/ipv6/conf/eth0/accept_dad 0 /proc/sys/net/ipv4/conf/eth0/arp_notify 1 -- ip -j -batch - << ` +
      'addr add 10.22.0.2/24 broadcast + dev eth0 ; link set dev eth0 up ; route add 0.0.0.0/0 via 10.22.0.1 dev eth0 ; addr show dev eth0',
    READ_BACK,
    `iptables-restore --noflush -w 5 << *nat ; -N ${CHAIN} ; -A ${CHAIN} -d 10.22.0.0/24 -m comment --comment ${C} -j ACCEPT ; ` +
      `-A ${CHAIN} ! -d 224.0.0.0/4 -m comment --comment ${C} -j MASQUERADE ; -A POSTROUTING -s 10.22.0.2/32 -m comment --comment ${C} -j ${CHAIN} ; COMMIT`,
  ]);
  t.deepEqual(host.sysctls, [
    ['net/ipv6/conf/cni0/accept_ra', '0'],
    [`!net/ipv6/conf/${VETH}/accept_ra`, '0'], // the veth is new: written without a read first
    ['net/ipv4/ip_forward', '1'],
  ]);
  t.deepEqual(host.sleeps, [0], 'the port was up at the first look');
  t.deepEqual(result, {
    cniVersion: '1.1.0',
    interfaces: [
      { name: 'cni0', mac: '02:a0:a1:a2:a3:a4' },
      { name: VETH, mac: '6e:00:00:00:00:09' },
      { name: 'eth0', mac: '0a:58:0a:16:00:02', sandbox: NETNS },
    ],
    ips: [{ interface: 2, address: '10.22.0.2/24', gateway: '10.22.0.1' }],
    routes: [{ dst: '0.0.0.0/0' }],
    dns: { nameservers: ['10.22.0.53'] },
  });
});

test('dual-stack with isDefaultGateway: IPv6 sysctls, a default route per family, one restore per family', async (t) => {
  const { exec, host, result, error } = await add(
    { isDefaultGateway: true, ipMasq: true, ipam: { type: 'host-local' } },
    { node: NODE, pod: POD, ipam: IPAM_DUAL },
  );
  t.is(error, undefined);
  const s = exec.script();
  t.is(s[3], 'ip -j -batch - << addr add 10.22.0.1/24 broadcast + dev cni0 ; addr add fd00:22::1/64 dev cni0');
  t.is(
    s[4],
    `nsenter --net=${NETNS} -- ${SH} /proc/sys/net/ipv6/conf/eth0/accept_dad 0 /proc/sys/net/ipv4/conf/eth0/arp_notify 1 ` +
      '/proc/sys/net/ipv6/conf/lo/disable_ipv6 0 /proc/sys/net/ipv6/conf/eth0/disable_ipv6 0 /proc/sys/net/ipv6/conf/eth0/keep_addr_on_down 1 -- ip -j -batch - << ' +
      'addr add 10.22.0.2/24 broadcast + dev eth0 ; addr add fd00:22::2/64 dev eth0 ; link set dev eth0 up ; ' +
      'route add 0.0.0.0/0 via 10.22.0.1 dev eth0 ; route add ::/0 via fd00:22::1 dev eth0 ; addr show dev eth0',
  );
  t.deepEqual(
    s.slice(6).map((l) => l.split(' << ')[0]),
    ['iptables-restore --noflush -w 5', 'ip6tables-restore --noflush -w 5'],
  );
  t.regex(s[7]!, /-A CNI-\w+ ! -d ff00::\/8 .* -j MASQUERADE ; -A POSTROUTING -s fd00:22::2\/128 /);
  t.deepEqual(host.sysctls.slice(-2), [
    ['net/ipv4/ip_forward', '1'],
    ['net/ipv6/conf/all/forwarding', '1'],
  ]);
  t.deepEqual(result?.routes, [
    { dst: '0.0.0.0/0', gw: '10.22.0.1' },
    { dst: '::/0', gw: 'fd00:22::1' },
  ]);
  t.deepEqual(result?.ips, [
    { interface: 2, address: '10.22.0.2/24', gateway: '10.22.0.1' },
    { interface: 2, address: 'fd00:22::2/64', gateway: 'fd00:22::1' },
  ]);
});

test('forceAddress replaces the conflicting address and pins the MAC of an existing bridge', async (t) => {
  const node = {
    ...NODE,
    cni0: {
      ...NODE.cni0,
      addrs: [
        ['10.99.0.1', 16],
        ['fe80::1', 64],
      ] as Array<[string, number]>,
    },
  };
  const { exec, error } = await add(
    { isGateway: true, forceAddress: true, ipam: { type: 'host-local' } },
    { node, pod: POD, ipam: IPAM_V4 },
    ['cni0'],
  );
  t.is(error, undefined);
  t.is(
    exec.script()[2],
    // the bridge is up already: not set up again
    `ip -j -batch - << link set dev cni0 address 02:a0:a1:a2:a3:a4 ; link add name ${VETH} up master cni0 type veth peer name eth0 netns ${NETNS}`,
  );
  t.is(
    exec.script()[3],
    'ip -j -batch - << addr del 10.99.0.1/16 dev cni0 ; addr add 10.22.0.1/24 broadcast + dev cni0',
  );
});

test('IPv6 gateways conflict only with overlapping subnets; the existing gateway address is kept', async (t) => {
  const node = {
    ...NODE,
    cni0: {
      ...NODE.cni0,
      addrs: [
        ['10.22.0.1', 24],
        ['fd00:99::1', 64],
      ] as Array<[string, number]>,
    },
  };
  const { exec, error } = await add(
    { isGateway: true, ipam: { type: 'host-local' } },
    { node, pod: POD, ipam: IPAM_DUAL },
    ['cni0'],
  );
  t.is(error, undefined);
  t.is(exec.script()[3], 'ip -j -batch - << addr add fd00:22::1/64 dev cni0', 'only the missing IPv6 gateway is added');
  const overlap = { ...NODE, cni0: { ...NODE.cni0, addrs: [['fd00:22::5', 48]] as Array<[string, number]> } };
  const r = await add({ isGateway: true, ipam: { type: 'host-local' } }, { node: overlap, pod: POD, ipam: IPAM_DUAL }, [
    'cni0',
  ]);
  t.is(r.error?.message, '"cni0" already has an IP address different from fd00:22::1/64');
});

test('L2-only: no IPAM, no pod sysctls, the container end is set up; no forwarding, no gateway', async (t) => {
  const { exec, host, result, error } = await add({}, { node: NODE, pod: POD });
  t.is(error, undefined);
  t.deepEqual(exec.script().slice(2), [
    `nsenter --net=${NETNS} -- ip -j -batch - << link set dev eth0 up ; addr show dev eth0`,
    READ_BACK,
  ]);
  t.is(exec.script()[0], 'ip -j -batch - << link add name cni0 type bridge');
  t.false(host.sysctls.some(([k]) => k.includes('forward')));
  t.is(result?.ips, undefined);
});

test('disableContainerInterface leaves the container end down and does not wait for the port', async (t) => {
  const node = { ...NODE, [VETH]: { ...NODE[VETH], operstate: 'LOWERLAYERDOWN' } };
  const { exec, host, error } = await add({ disableContainerInterface: true }, { node, pod: POD });
  t.is(error, undefined);
  t.is(exec.script()[2], `nsenter --net=${NETNS} -- ip -j -batch - << addr show dev eth0`);
  t.deepEqual(host.sleeps, [0]);
});

test('port and link options: mtu, MAC from runtimeConfig, hairpin, isolation, promiscuous bridge', async (t) => {
  const { exec, error } = await add(
    {
      mtu: 1400,
      hairpinMode: true,
      portIsolation: true,
      runtimeConfig: { mac: '0A:58:0A:16:00:99' },
      args: { cni: { mac: '0a:58:00:00:00:01' } },
    },
    { node: NODE, pod: POD },
    [],
    'IgnoreUnknown=1;MAC=0a:58:00:00:00:02',
  );
  t.is(error, undefined);
  t.is(exec.script()[0], 'ip -j -batch - << link add name cni0 mtu 1400 type bridge');
  t.is(
    exec.script()[1],
    `ip -j -batch - << link set dev cni0 up ; link add name ${VETH} mtu 1400 up master cni0 type veth peer name eth0 address 0a:58:0a:16:00:99 mtu 1400 netns ${NETNS} ; ` +
      `link set dev ${VETH} type bridge_slave hairpin on isolated on`,
  );
  const promisc = await add({ promiscMode: true }, { node: NODE, pod: POD }, ['cni0']);
  // seen up already: promiscuous, and not set up again
  t.true(promisc.exec.script()[1]!.includes('<< link set dev cni0 promisc on ; link add name'));
});

test('a bridge created by a concurrent ADD between our look and our create is fine', async (t) => {
  const { error } = await add(
    {},
    {
      node: NODE,
      pod: POD,
      fail: (c) =>
        c.input.startsWith('link add name cni0')
          ? { status: 2, stderr: 'RTNETLINK answers: File exists\nCommand failed -:1' }
          : undefined,
    },
  );
  t.is(error, undefined);
});

test('macspoofchk: one nft listing and one nft transaction with the pod MAC; a stale jump of the same attachment is replaced', async (t) => {
  const stale = {
    rule: {
      family: 'bridge',
      table: 'nat',
      chain: 'PREROUTING',
      handle: 17,
      comment: 'macspoofchk-ctr1-eth0',
      expr: [],
    },
  };
  const { exec, error } = await add(
    { macspoofchk: true },
    { node: NODE, pod: POD, nft: { 'table bridge nat': [stale] } },
  );
  t.is(error, undefined);
  t.deepEqual(exec.script().slice(-2), [
    'nft -j list table bridge nat',
    'nft -f - << add table bridge nat ; add chain bridge nat PREROUTING { type filter hook prerouting priority -300 ; policy accept ; } ; ' +
      'add chain bridge nat cni-br-iface-ctr1-eth0 ; add chain bridge nat cni-br-iface-ctr1-eth0-mac ; flush chain bridge nat cni-br-iface-ctr1-eth0 ; ' +
      'flush chain bridge nat cni-br-iface-ctr1-eth0-mac ; delete rule bridge nat PREROUTING handle 17 ; ' +
      `add rule bridge nat PREROUTING iifname "${VETH}" jump cni-br-iface-ctr1-eth0 comment "macspoofchk-ctr1-eth0" ; ` +
      'add rule bridge nat cni-br-iface-ctr1-eth0 jump cni-br-iface-ctr1-eth0-mac comment "macspoofchk-ctr1-eth0" ; ' +
      'add rule bridge nat cni-br-iface-ctr1-eth0-mac ether saddr 0a:58:0a:16:00:02 return comment "macspoofchk-ctr1-eth0" ; ' +
      'add rule bridge nat cni-br-iface-ctr1-eth0-mac drop comment "macspoofchk-ctr1-eth0"',
  ]);
});

test('nftables masquerade backend: one listing, one transaction with the upstream table, chains and comment', async (t) => {
  const { exec, error } = await add(
    { ipMasq: true, ipMasqBackend: 'nftables', ipam: { type: 'host-local' } },
    { node: NODE, pod: POD, ipam: IPAM_V4 },
  );
  t.is(error, undefined);
  const [list, apply] = exec.script().slice(-2);
  t.is(list, 'nft -j list chain inet cni_plugins_masquerade masq_checks');
  t.true(
    apply!.startsWith(
      'nft -f - << add table inet cni_plugins_masquerade { comment "Masquerading for plugins from github.com/containernetworking/plugins" ; } ; ',
    ),
  );
  t.regex(
    apply!,
    / ; add rule inet cni_plugins_masquerade masq_checks ip saddr == 10\.22\.0\.2 ip daddr != 10\.22\.0\.0\/24 masquerade comment "[0-9a-f]{16}-[0-9a-f]{16}, net: podnet, if: eth0, id: ctr1"$/,
  );
});

test('IPv6 with enabledad: DAD sysctls on, and ADD waits until no address is tentative', async (t) => {
  const pod = { eth0: { ...POD.eth0, addrs: [['fd00:22::2', 64]] as Array<[string, number]>, tentative: true } };
  let polls = 0;
  const { exec, host, error } = await add(
    { isGateway: true, enabledad: true, ipam: { type: 'host-local' } },
    {
      node: NODE,
      pod,
      ipam: { cniVersion: '1.0.0', ips: [{ address: 'fd00:22::2/64' }] },
      fail: (c) =>
        c.file === 'nsenter' && c.input === 'addr show dev eth0\n' && ++polls >= 3
          ? {
              status: 0,
              stdout: `${JSON.stringify([
                {
                  ifname: 'eth0',
                  ifindex: 2,
                  address: '0a:58:0a:16:00:02',
                  operstate: 'UP',
                  addr_info: [{ family: 'inet6', local: 'fd00:22::2', prefixlen: 64 }],
                },
              ])}\n`,
              stderr: '',
            }
          : undefined,
    },
  );
  t.is(error, undefined);
  t.true(
    exec.script()[4]!.includes('/proc/sys/net/ipv6/conf/eth0/enhanced_dad 1 /proc/sys/net/ipv6/conf/eth0/accept_dad 1'),
  );
  t.is(polls, 3);
  t.deepEqual(host.sleeps.slice(0, 3), [50, 50, 50]);
});

test('read-back: one RTM_GETLINK of the host veth before the first look (it runs the link-watch event), so ADD does not sleep', async (t) => {
  const exec = new ScriptedExec({ node: NODE, pod: POD });
  const host = new FakeHost();
  host.sysfs[VETH] = { address: '6e:00:00:00:00:10', operstate: 'lowerlayerdown' };
  host.sysfs.cni0 = { address: '02:00:00:00:00:20', operstate: 'up' };
  // the kernel's behaviour, faked: the port's operstate is current once someone asked for the link
  const asked: string[] = [];
  let closed = 0;
  const sock: Rtnl = {
    exchange(req) {
      const text = Buffer.from(req.msg).toString('latin1');
      asked.push(text.includes(VETH) ? VETH : 'other');
      if (text.includes(VETH)) host.sysfs[VETH]!.operstate = 'up';
      const body = new DataView(new ArrayBuffer(16));
      body.setInt32(4, 7, true);
      return [{ type: 16, flags: 0, seq: 1, body }];
    },
    talk() {
      throw new Error('not used');
    },
    close() {
      closed++;
    },
  };
  const netnsAsked: Array<string | undefined> = [];
  Object.assign(exec, {
    rtnl: (netns: string | undefined) => {
      netnsAsked.push(netns);
      return sock;
    },
  });
  const r = await makeBridge(host).add(context(exec, {}));
  t.deepEqual(asked, [VETH], 'one lookup, of the host veth');
  t.deepEqual(netnsAsked, [undefined], 'in our (the node) namespace');
  t.is(closed, 1);
  t.deepEqual(host.sleeps, [0], 'the port was up at the first look');
  t.deepEqual(r.interfaces?.slice(0, 2), [
    { name: 'cni0', mac: '02:00:00:00:00:20' },
    { name: VETH, mac: '6e:00:00:00:00:10' },
  ]);
});

test('read-back: a failing lookup of the host veth changes nothing (the polls run as before)', async (t) => {
  const exec = new ScriptedExec({ node: NODE, pod: POD });
  const host = new FakeHost();
  host.sysfs[VETH] = { address: '6e:00:00:00:00:10', operstate: 'up' };
  host.sysfs.cni0 = { address: '02:00:00:00:00:20', operstate: 'up' };
  Object.assign(exec, {
    rtnl: () => {
      throw new Error('no socket');
    },
  });
  const r = await makeBridge(host).add(context(exec, {}));
  t.deepEqual(host.sleeps, [0]);
  t.is(r.interfaces?.[1]?.name, VETH);
});

test('read-back from /sys/class/net when it shows our new veth (no process); waits while the port is not up yet', async (t) => {
  const exec = new ScriptedExec({ node: NODE, pod: POD });
  const host = new FakeHost();
  host.sysfs[VETH] = { address: '6e:00:00:00:00:10', operstate: 'lowerlayerdown' };
  host.sysfs.cni0 = { address: '02:00:00:00:00:20', operstate: 'up' };
  let reads = 0;
  const orig = host.readLinkAttr.bind(host);
  host.readLinkAttr = (name: string, attr: string) => {
    if (name === VETH && attr === 'operstate' && ++reads === 2) host.sysfs[VETH]!.operstate = 'up';
    return orig(name, attr);
  };
  const r = await makeBridge(host).add(context(exec, {}));
  t.false(
    exec.script().some((l) => l.startsWith('ip -d -j')),
    'no ip read-back',
  );
  t.deepEqual(host.sleeps, [0, 1]);
  t.deepEqual(r.interfaces?.slice(0, 2), [
    { name: 'cni0', mac: '02:00:00:00:00:20' },
    { name: VETH, mac: '6e:00:00:00:00:10' },
  ]);
});

test('a gateway address a concurrent ADD has just added is not an error; the other gateway is still added', async (t) => {
  const { exec, error } = await add(
    { isGateway: true, ipam: { type: 'host-local' } },
    {
      node: NODE,
      pod: POD,
      ipam: IPAM_DUAL,
      fail: (c) =>
        c.input.startsWith('addr add 10.22.0.1/24')
          ? { status: 2, stderr: 'RTNETLINK answers: File exists\nCommand failed -:1\n' }
          : undefined,
    },
  );
  t.is(error, undefined);
  t.deepEqual(
    exec.script().filter((l) => l.startsWith('ip -j -batch - << addr add')),
    [
      'ip -j -batch - << addr add 10.22.0.1/24 broadcast + dev cni0 ; addr add fd00:22::1/64 dev cni0',
      'ip -j -batch - << addr add fd00:22::1/64 dev cni0',
    ],
  );
});
