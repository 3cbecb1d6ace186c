// bridge cases of the bench: ours vs Go in the same run, for the default-conflist shape of config
// (gateway, masquerade, hairpin, host-local). Both use Debian's Go host-local, so the rows compare
// the bridge plugins alone. ADD+DEL as a pair, then ADD and DEL each timed on its own (the untimed
// prepare step puts the pod in the state the measured verb starts from).
import { join } from 'node:path';
import { callScript, go, hyperfine, namespaces, ours } from './lib.mjs';

/** Rows [what, ours, go] for the bench table. */
export async function bridgeRows(dir, runs) {
  const tag = `ctbbr${process.pid.toString(36)}`;
  // one pod per implementation: Go's DEL fails on a pod that another network's ADD left behind
  const node = `${tag}-node`;
  const pods = { ours: `${tag}-po`, go: `${tag}-pg` };
  const drop = await namespaces([node, pods.ours, pods.go]);
  try {
    const env = (cmd, impl) => ({
      CNI_COMMAND: cmd,
      CNI_CONTAINERID: 'bench',
      CNI_NETNS: `/run/netns/${pods[impl]}`,
      CNI_IFNAME: 'eth0',
      CNI_PATH: '/usr/lib/cni',
    });
    // Go v1.1.1 speaks up to 1.0.0, so both get 1.0.0.
    const conf = (impl) => ({
      cniVersion: '1.0.0',
      name: `bench-${impl}`,
      type: 'bridge',
      bridge: 'cni0',
      isGateway: true,
      ipMasq: true,
      hairpinMode: true,
      ipam: { type: 'host-local', dataDir: join(dir, `br-${impl}`), ranges: [[{ subnet: '10.1.0.0/24' }]] },
    });
    const calls = Object.fromEntries(
      [
        ['ours', ours('bridge')],
        ['go', go('bridge')],
      ].map(([impl, plugin]) => [
        impl,
        {
          add: callScript(dir, `br-${impl}-add`, plugin, env('ADD', impl), conf(impl)),
          del: callScript(dir, `br-${impl}-del`, plugin, env('DEL', impl), conf(impl)),
        },
      ]),
    );
    const impls = Object.keys(calls);
    const pair = await hyperfine(
      impls.map((i) => [`${i} ADD+DEL`, `${calls[i].add} && ${calls[i].del}`]),
      { runs, netns: node, dir },
    );
    const add = await hyperfine(
      impls.map((i) => [`${i} ADD`, calls[i].add, `${calls[i].del}`]),
      { runs, netns: node, dir },
    );
    const del = await hyperfine(
      impls.map((i) => [`${i} DEL`, calls[i].del, `${calls[i].del}; ${calls[i].add}`]),
      { runs, netns: node, dir },
    );
    return [
      ['bridge ADD + DEL (gateway, ipMasq, hairpin, host-local)', pair['ours ADD+DEL'], pair['go ADD+DEL']],
      ['bridge ADD alone', add['ours ADD'], add['go ADD']],
      ['bridge DEL alone', del['ours DEL'], del['go DEL']],
    ];
  } finally {
    await drop();
  }
}
