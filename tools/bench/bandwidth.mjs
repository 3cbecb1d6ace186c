// bandwidth cases of the bench: ours vs Go in the same run, shaping both directions with explicit
// bursts (Go refuses a rate without one). Each implementation has its own pod, a veth pair into the
// node netns; ADD+DEL as a pair, then ADD and DEL each timed on its own (the untimed prepare step
// puts the pod in the state the measured verb starts from).
import { callScript, go, hyperfine, namespaces, ours, sh } from './lib.mjs';

/** Rows [what, ours, go] for the bench table. */
export async function bandwidthRows(dir, runs) {
  const tag = `ctbbw${process.pid.toString(36)}`;
  const node = `${tag}-node`;
  const pods = { ours: `${tag}-po`, go: `${tag}-pg` };
  const drop = await namespaces([node, pods.ours, pods.go]);
  try {
    for (const [impl, pod] of Object.entries(pods)) {
      await sh('ip', ['-n', node, 'link', 'add', `bw${impl}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', pod]);
      await sh('ip', ['-n', node, 'link', 'set', `bw${impl}`, 'up']);
      await sh('ip', ['-n', pod, 'link', 'set', 'eth0', 'up']);
    }
    const env = (cmd, impl) => ({
      CNI_COMMAND: cmd,
      CNI_CONTAINERID: `bench-${impl}`,
      CNI_NETNS: `/run/netns/${pods[impl]}`,
      CNI_IFNAME: 'eth0',
      CNI_PATH: '/usr/lib/cni',
    });
    // Go v1.1.1 speaks up to 1.0.0, so both get 1.0.0
    const conf = (impl) => ({
      cniVersion: '1.0.0',
      name: 'bench',
      type: 'bandwidth',
      runtimeConfig: { bandwidth: { ingressRate: 10e6, ingressBurst: 100e3, egressRate: 10e6, egressBurst: 100e3 } },
      prevResult: {
        cniVersion: '1.0.0',
        interfaces: [{ name: `bw${impl}` }, { name: 'eth0', sandbox: `/run/netns/${pods[impl]}` }],
      },
    });
    const calls = Object.fromEntries(
      [
        ['ours', ours('bandwidth')],
        ['go', go('bandwidth')],
      ].map(([impl, plugin]) => [
        impl,
        {
          add: callScript(dir, `bw-${impl}-add`, plugin, env('ADD', impl), conf(impl)),
          del: callScript(dir, `bw-${impl}-del`, plugin, env('DEL', impl), conf(impl)),
        },
      ]),
    );
    const impls = Object.keys(calls);
    // Go's DEL leaves its qdiscs on the veth (upstream counts on the veth going away), and its next ADD
    // would fail with "file exists"; so every run starts from a veth reset by the same untimed step
    const reset = (i) =>
      `tc qdisc del dev bw${i} root 2>/dev/null; tc qdisc del dev bw${i} ingress 2>/dev/null; ` +
      `ip link show type ifb | grep -o 'bwp[0-9a-f]*' | xargs -r -n1 ip link del 2>/dev/null; true`;
    const pair = await hyperfine(
      impls.map((i) => [`${i} ADD+DEL`, `${calls[i].add} && ${calls[i].del}`, reset(i)]),
      { runs, netns: node, dir },
    );
    const add = await hyperfine(
      impls.map((i) => [`${i} ADD`, calls[i].add, reset(i)]),
      { runs, netns: node, dir },
    );
    const del = await hyperfine(
      impls.map((i) => [`${i} DEL`, calls[i].del, `${reset(i)}; ${calls[i].add}`]),
      { runs, netns: node, dir },
    );
    return [
      ['bandwidth ADD + DEL (both directions, ifb)', pair['ours ADD+DEL'], pair['go ADD+DEL']],
      ['bandwidth ADD alone', add['ours ADD'], add['go ADD']],
      ['bandwidth DEL alone', del['ours DEL'], del['go DEL']],
    ];
  } finally {
    await drop();
  }
}
