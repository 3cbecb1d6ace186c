// The pod side through rtnetlink (the built executables' default) against `ip -batch`
// (CNI_TS_NETLINK=0): loopback and a dual-stack bridge ADD, CHECK and DEL of the same pod config,
// each path on a pod of its own. Results, the pod's links, addresses, routes and sysctls after
// ADD, and the pod after DEL must be the same. The netlink run gets a PATH with the node's tools
// but neither nsenter nor sh, so it can only have configured the pod without a process (CHECK,
// which reads the pod with `ip -d`, gets the whole PATH).
import { existsSync, mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import anyTest, { type TestFn } from 'ava';
import { type Netns, SYSTEM_PATH, execPlugin, ourPlugin } from '@cni-ts/testutils';
import { type World, links, netConf, run, sysctls, worldTest } from './kit.js';

const test = worldTest(anyTest as TestFn<{ w: World }>, 'nl', 'pod setup through rtnetlink and through ip -batch');

// Everything the plugins run on the node side; not nsenter, not sh.
const NODE_TOOLS = ['ip', 'bridge', 'iptables', 'iptables-save', 'iptables-restore', 'ip6tables', 'ip6tables-save'];
const NODE_TOOLS_MORE = ['ip6tables-restore', 'nft', 'flock'];

function toolDir(w: World): string {
  const d = join(w.dir, 'tools');
  mkdirSync(d);
  for (const tool of [...NODE_TOOLS, ...NODE_TOOLS_MORE]) {
    const at = SYSTEM_PATH.split(':')
      .map((p) => join(p, tool))
      .find((p) => existsSync(p));
    if (at) symlinkSync(at, join(d, tool));
  }
  return d;
}

const SYSCTLS = [
  'net/ipv4/conf/eth0/arp_notify',
  'net/ipv6/conf/eth0/accept_dad',
  'net/ipv6/conf/eth0/disable_ipv6',
  'net/ipv6/conf/eth0/keep_addr_on_down',
  'net/ipv6/conf/lo/disable_ipv6',
];

async function podState(pod: Netns): Promise<unknown> {
  return {
    links: await links(pod),
    routes4: await pod.ipJson(['-4', 'route', 'show', 'table', 'all']),
    routes6: await pod.ipJson(['-6', 'route', 'show', 'table', 'all']),
    sysctls: await sysctls(pod, SYSCTLS),
  };
}

// What differs between the two runs by design: random MACs (and the link-local addresses made
// from them), veth names and the peer's index on the node, the pod's path, address lifetimes.
function normal(value: unknown, pod: Netns): string {
  const text = JSON.stringify(value, (k, v) =>
    ['valid_life_time', 'preferred_life_time', 'link_index', 'expires'].includes(k) ? undefined : v,
  );
  return text
    .replaceAll(pod.path, '<pod>')
    .replaceAll(pod.name, '<pod>')
    .replace(/([0-9a-f]{2}:){5}[0-9a-f]{2}/g, '<mac>')
    .replace(/fe80::[0-9a-f:]+/g, '<link-local>')
    .replace(/veth[0-9a-f]{8}/g, '<veth>');
}

test('rtnetlink and ip -batch give the same results and leave the same pod, after ADD and after DEL', async (t) => {
  const { w } = t.context;
  const tools = toolDir(w);
  const modes: Record<string, Record<string, string>> = {
    netlink: { PATH: tools },
    'ip -batch': { CNI_TS_NETLINK: '0' },
  };
  const seen: Record<string, string> = {};
  for (const [mode, env] of Object.entries(modes)) {
    const pod = await w.node.addPod(mode === 'netlink' ? 'nl' : 'ip', { loUp: false });
    const conf = netConf(
      w,
      { cniVersion: '1.1.0', isGateway: true, isDefaultGateway: true, ipMasq: true, hairpinMode: true },
      [[{ subnet: '10.22.0.0/24' }], [{ subnet: 'fd00:22::/64' }]],
    );
    (conf.ipam as Record<string, unknown>).dataDir = join(w.dir, `ipam-${mode.length}`);
    const lo = (command: string) =>
      execPlugin({
        plugin: ourPlugin('loopback'),
        command,
        config: { cniVersion: '1.1.0', name: 'lo', type: 'loopback' },
        containerId: 'ctr1',
        ifname: 'lo',
        netns: pod.path,
        inNetns: w.node.node.name,
        env,
      });
    const loAdd = await lo('ADD');
    const add = await run(w, 'ADD', pod, conf, { env });
    t.is(add.exitCode, 0, `${mode} ADD: ${add.stdout}${add.stderr}`);
    // CHECK reads the pod with `ip -d` (details netlink/docs.ts does not carry): ip on either path
    const check = await run(w, 'CHECK', pod, { ...conf, prevResult: add.json }, { env: { ...env, PATH: SYSTEM_PATH } });
    const afterAdd = await podState(pod);
    const del = await run(w, 'DEL', pod, { ...conf, prevResult: add.json }, { env });
    const loDel = await lo('DEL');
    const afterDel = await podState(pod);
    const outcome = (r: { exitCode: number; stdout: string; stderr: string }) => [r.exitCode, r.stdout, r.stderr];
    seen[mode] = normal(
      {
        lo: [outcome(loAdd), outcome(loDel)],
        add: outcome(add),
        check: outcome(check),
        del: outcome(del),
        afterAdd,
        afterDel,
      },
      pod,
    );
  }
  t.is(seen.netlink, seen['ip -batch']);
  t.regex(seen.netlink!, /10\.22\.0\.2\/24/, 'the pod got its address');
});

test('the ip -batch path does need nsenter: without it on PATH, loopback ADD fails', async (t) => {
  const { w } = t.context;
  const pod = await w.node.addPod('nons', { loUp: false });
  const r = await execPlugin({
    plugin: ourPlugin('loopback'),
    command: 'ADD',
    config: { cniVersion: '1.1.0', name: 'lo', type: 'loopback' },
    containerId: 'ctr1',
    ifname: 'lo',
    netns: pod.path,
    inNetns: w.node.node.name,
    env: { PATH: toolDir(w), CNI_TS_NETLINK: '0' },
  });
  t.not(r.exitCode, 0, 'so the netlink run above started no nsenter');
});
