// portmap cases of the bench: ours vs Go in the same run, one TCP mapping for an IPv4 pod on a
// node netns (kube-proxy-free, own mark chain: the default config). ADD+DEL as a pair, then ADD
// and DEL each timed alone, as hyperfine medians; then what the 1st and the 200th pod of a node
// cost (a probe pod on an empty node and on one with 199 pods, the four nodes timed in turns) and
// the cost per pod already present. Also how many of 30 parallel ADDs on a fresh node succeed,
// and how many shared rules they leave (each should exist once).
// Part of `npm run bench`; alone (root, hyperfine):  node tools/bench/portmap.mjs [--runs N]
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { SYSTEM_PATH, callScript, go, hyperfine, namespaces, ours, printTable, scratch } from './lib.mjs';

const prevResult = (i) => ({
  cniVersion: '0.4.0',
  interfaces: [{ name: 'eth0', sandbox: '/run/netns/bench' }],
  ips: [{ version: '4', address: `10.${20 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}/16`, interface: 0 }],
  dns: {},
});
// Go v1.1.1 speaks up to 1.0.0 and removes nothing on DEL without the mappings, so both get them.
const conf = (i, port = 8080) => ({
  cniVersion: '0.4.0',
  name: 'bench',
  type: 'portmap',
  runtimeConfig: { portMappings: [{ hostPort: port, containerPort: 80, protocol: 'tcp' }] },
  prevResult: prevResult(i),
});
const env = (cmd, id) => ({
  CNI_COMMAND: cmd,
  CNI_CONTAINERID: id,
  CNI_NETNS: '/run/netns/bench',
  CNI_IFNAME: 'eth0',
  CNI_PATH: '/usr/lib/cni',
});
const IMPLS = [
  ['ours', ours('portmap')],
  ['go', go('portmap')],
];

/** Rows [what, ours, go] for the bench table, and the per-pod and parallel figures. */
export async function portmapRows(dir, runs) {
  const tag = `ctbpm${process.pid.toString(36)}`;
  const node = `${tag}-node`;
  const drop = await namespaces([node]);
  try {
    // both on one node, each with its own container and port; the shared chains are the same
    const calls = Object.fromEntries(
      IMPLS.map(([impl, plugin], k) => [
        impl,
        {
          add: callScript(dir, `pm-${impl}-add`, plugin, env('ADD', `bench-${impl}`), conf(2 + k, 8080 + k)),
          del: callScript(dir, `pm-${impl}-del`, plugin, env('DEL', `bench-${impl}`), conf(2 + k, 8080 + k)),
        },
      ]),
    );
    // one ADD first, so the shared chains exist as on any node that has run a pod
    for (const [impl] of IMPLS) sh(node, calls[impl].add);
    const timed = (what, cmd, prepare) =>
      hyperfine(
        IMPLS.map(([i]) => [`${i} ${what}`, cmd(i), ...(prepare ? [prepare(i)] : [])]),
        { runs, dir, netns: node },
      );
    const pair = await timed('ADD+DEL', (i) => `${calls[i].del} && ${calls[i].add}`);
    const add = await timed(
      'ADD',
      (i) => calls[i].add,
      (i) => calls[i].del,
    );
    const del = await timed(
      'DEL',
      (i) => calls[i].del,
      (i) => calls[i].add,
    );
    for (const [impl] of IMPLS) sh(node, calls[impl].del);
    const growth = await perPod(tag, 200);
    const parallel = {};
    for (const [impl, plugin] of IMPLS) parallel[impl] = await parallelAdds(`${tag}-p${impl[0]}`, plugin, 30);
    return {
      rows: [
        ['portmap ADD + DEL (one TCP mapping, IPv4)', pair['ours ADD+DEL'], pair['go ADD+DEL']],
        ['portmap ADD alone', add['ours ADD'], add['go ADD']],
        ['portmap DEL alone', del['ours DEL'], del['go DEL']],
      ],
      growth,
      parallel,
    };
  } finally {
    await drop();
  }
}

function sh(ns, cmd) {
  const r = spawnSync('ip', ['netns', 'exec', ns, 'sh', '-c', cmd], { env: { PATH: SYSTEM_PATH } });
  if (r.status !== 0) throw new Error(`${cmd}: ${r.stderr}`);
}

// One plugin call, timed from spawn to exit (ms).
function timedCall(ns, plugin, cmd, id, config) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('ip', ['netns', 'exec', ns, plugin], {
    input: JSON.stringify(config),
    env: { PATH: SYSTEM_PATH, ...env(cmd, id) },
  });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${plugin} ${cmd} ${id}: ${r.stdout}${r.stderr}`);
  return ms;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

// The cost of the 1st and of the 200th pod of a node. Four nodes are prepared first: per
// implementation one empty and one holding n-1 pods (filled with the implementations taking
// turns). Then a probe pod's ADD and DEL are timed on all four, round after round, in an order
// that rotates every round: a change in the machine's load during the run moves all four alike,
// so (200th - 1st) / (n - 1) is the cost of each pod already present, not the drift of the load.
// Times include `ip netns exec`, which the difference cancels.
async function perPod(tag, n, rounds = 15) {
  const nodes = IMPLS.flatMap(([impl, plugin]) => [
    { impl, plugin, ns: `${tag}-e${impl[0]}`, pods: 0 },
    { impl, plugin, ns: `${tag}-f${impl[0]}`, pods: n - 1 },
  ]);
  const drop = await namespaces(nodes.map((x) => x.ns));
  try {
    const full = nodes.filter((x) => x.pods > 0);
    for (let i = 0; i < n - 1; i++)
      for (const x of i % 2 ? full.toReversed() : full)
        timedCall(x.ns, x.plugin, 'ADD', `pod${i}`, conf(i + 2, 10000 + i));
    const probe = conf(n + 2, 9000);
    const times = nodes.map(() => ({ add: [], del: [] }));
    for (let r = 0; r < rounds; r++)
      for (let j = 0; j < nodes.length; j++) {
        const k = (j + r) % nodes.length;
        const x = nodes[k];
        times[k].add.push(timedCall(x.ns, x.plugin, 'ADD', 'probe', probe));
        times[k].del.push(timedCall(x.ns, x.plugin, 'DEL', 'probe', probe));
      }
    const out = {};
    for (const [impl] of IMPLS) {
      const [e, f] = [0, 1].map((p) => times[nodes.findIndex((x) => x.impl === impl && x.pods > 0 === !!p)]);
      const fig = (what) => {
        const [first, last] = [median(e[what]), median(f[what])];
        return { first, last, perPod: (last - first) / (n - 1) };
      };
      out[impl] = { add: fig('add'), del: fig('del') };
    }
    return out;
  } finally {
    await drop();
  }
}

// n ADDs started at once on a fresh node; how many succeeded.
async function parallelAdds(ns, plugin, n) {
  const drop = await namespaces([ns]);
  try {
    const done = await Promise.all(
      Array.from(
        { length: n },
        (_, i) =>
          new Promise((resolve) => {
            const p = spawn('ip', ['netns', 'exec', ns, plugin], {
              env: { PATH: SYSTEM_PATH, ...env('ADD', `par${i}`) },
            });
            p.stdin.end(JSON.stringify(conf(i + 2, 20000 + i)));
            p.on('close', (code) => resolve(code === 0));
          }),
      ),
    );
    const saved = spawnSync('ip', ['netns', 'exec', ns, 'iptables-save', '-t', 'nat'], { env: { PATH: SYSTEM_PATH } });
    const shared = String(saved.stdout)
      .split('\n')
      .filter((l) => /^-A (PREROUTING|OUTPUT|POSTROUTING|CNI-HOSTPORT-SETMARK|CNI-HOSTPORT-MASQ) /.test(l)).length;
    return { ok: done.filter(Boolean).length, shared };
  } finally {
    await drop();
  }
}

/** Prints the per-pod and parallel figures under the table. */
export function printPortmapFigures({ growth, parallel }) {
  console.log(
    '\nportmap, the 1st and the 200th pod of a node (a probe pod on an empty node and on one with 199 pods; medians of 15 rounds taking turns, ms):',
  );
  console.log(
    '| impl | ADD, 1st pod | ADD, 200th | ADD per pod present | DEL, 1st pod | DEL, 200th | DEL per pod present |',
  );
  console.log('|---|---|---|---|---|---|---|');
  for (const [impl, g] of Object.entries(growth)) {
    const f = (x) => x.toFixed(2);
    console.log(
      `| ${impl} | ${f(g.add.first)} | ${f(g.add.last)} | ${f(g.add.perPod)} | ${f(g.del.first)} | ${f(g.del.last)} | ${f(g.del.perPod)} |`,
    );
  }
  const p = (x) => `${x.ok}/30 succeeded, ${x.shared} shared rules (5 when each exists once)`;
  console.log(`\nportmap, 30 parallel ADDs on a fresh node: ours ${p(parallel.ours)}; Go ${p(parallel.go)}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const runs = Number(process.argv[process.argv.indexOf('--runs') + 1]) || 40;
  const { dir, cleanup } = scratch();
  try {
    const pm = await portmapRows(dir, runs);
    printTable(`portmap bench (${new Date().toISOString().slice(0, 10)}, ${runs} runs each; medians)`, pm.rows, {
      stat: 'median',
    });
    printPortmapFigures(pm);
  } finally {
    cleanup();
  }
}
