// The pod side through rtnetlink (the built executables' default) against `ip -batch`
// (CNI_TS_NETLINK=0): loopback and a dual-stack bridge ADD, CHECK and DEL of the same pod config,
// each path on a pod of its own. Results, the pod's links, addresses, routes and sysctls after
// ADD, the node's forwarding switches and accept_ra of the bridge and the host veth (reset before
// each path's ADD), and the pod after DEL must be the same. The netlink run gets a PATH with the firewall
// tools, an `ip` that logs its calls, and neither nsenter nor sh: its ADD and DEL must have made
// and removed links, addresses and routes without a process (CHECK, whose reads are outside the
// subset, gets the whole PATH).
import { chmodSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import anyTest, { type TestFn } from 'ava';
import { type Netns, SYSTEM_PATH, execPlugin, ourPlugin } from '@cni-ts/testutils';
import { type World, links, netConf, run, sysctls, worldTest } from './kit.js';

const test = worldTest(anyTest as TestFn<{ w: World }>, 'nl', 'pod setup through rtnetlink and through ip -batch');

// What the plugins still start for this config: the firewall tools; not nsenter or sh (and `ip`
// only logs).
const NODE_TOOLS = ['iptables', 'iptables-save', 'iptables-restore', 'ip6tables', 'ip6tables-save'];
const NODE_TOOLS_MORE = ['ip6tables-restore', 'nft', 'flock'];

const which = (tool: string) =>
  SYSTEM_PATH.split(':')
    .map((p) => join(p, tool))
    .find((p) => existsSync(p));

// The tools above, and an `ip` that logs every call to ip.log (the runner's own `ip netns exec`
// included) before running the real one.
function toolDir(w: World): { dir: string; ipCalls: () => string[] } {
  const d = join(w.dir, 'tools');
  mkdirSync(d);
  for (const tool of [...NODE_TOOLS, ...NODE_TOOLS_MORE]) {
    const at = which(tool);
    if (at) symlinkSync(at, join(d, tool));
  }
  const log = join(w.dir, 'ip.log');
  writeFileSync(join(d, 'ip'), `#!/bin/sh\necho "$*" >> ${log}\nexec ${which('ip')} "$@"\n`);
  chmodSync(join(d, 'ip'), 0o755);
  const ipCalls = () =>
    existsSync(log)
      ? readFileSync(log, 'utf8')
          .split('\n')
          .filter((l) => l && !l.startsWith('netns exec '))
      : [];
  return { dir: d, ipCalls };
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
    netlink: { PATH: tools.dir },
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
    // the node's switches as a fresh node has them, so each path reads and writes them (the bridge,
    // made by the first ADD, gets its accept_ra back)
    await w.node.node.exec('sh', [
      '-c',
      'echo 0 > /proc/sys/net/ipv4/ip_forward; echo 0 > /proc/sys/net/ipv6/conf/all/forwarding; [ ! -e /proc/sys/net/ipv6/conf/cni0 ] || echo 1 > /proc/sys/net/ipv6/conf/cni0/accept_ra',
    ]);
    const loAdd = await lo('ADD');
    const add = await run(w, 'ADD', pod, conf, { env });
    t.is(add.exitCode, 0, `${mode} ADD: ${add.stdout}${add.stderr}`);
    // CHECK reads the pod with `ip -d` (details netlink/docs.ts does not carry): ip on either path
    const check = await run(w, 'CHECK', pod, { ...conf, prevResult: add.json }, { env: { ...env, PATH: SYSTEM_PATH } });
    const afterAdd = await podState(pod);
    const veth = (add.json as { interfaces?: Array<{ name: string }> } | undefined)?.interfaces?.[1]?.name ?? 'none';
    const nodeSysctls = Object.values(
      await sysctls(w.node.node, [
        'net/ipv4/ip_forward',
        'net/ipv6/conf/all/forwarding',
        'net/ipv6/conf/cni0/accept_ra',
        `net/ipv6/conf/${veth}/accept_ra`,
      ]),
    );
    const del = await run(w, 'DEL', pod, { ...conf, prevResult: add.json }, { env });
    const loDel = await lo('DEL');
    if (mode === 'netlink') t.deepEqual(tools.ipCalls(), [], 'ADD and DEL ran no ip');
    const afterDel = await podState(pod);
    const outcome = (r: { exitCode: number; stdout: string; stderr: string }) => [r.exitCode, r.stdout, r.stderr];
    seen[mode] = normal(
      {
        lo: [outcome(loAdd), outcome(loDel)],
        add: outcome(add),
        check: outcome(check),
        del: outcome(del),
        afterAdd,
        nodeSysctls,
        afterDel,
      },
      pod,
    );
  }
  t.is(seen.netlink, seen['ip -batch']);
  t.regex(seen.netlink!, /10\.22\.0\.2\/24/, 'the pod got its address');
  t.regex(
    seen.netlink!,
    /"nodeSysctls":\["1","1","0","0"\]/,
    'forwarding on, accept_ra off on the bridge and the veth',
  );
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
    env: { PATH: toolDir(w).dir, CNI_TS_NETLINK: '0' },
  });
  t.not(r.exitCode, 0, 'so the netlink run above started no nsenter');
});
