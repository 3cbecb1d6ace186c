#!/usr/bin/env node
// Long trials of the rate an operator measures (root; iperf3): a node netns with a bridge and three
// pods (shaped, client, unshaped). For each case and rate, iperf3 TCP both directions for --seconds,
// --reps times; prints the receiver's first second, worst and best whole second and mean, as a
// fraction of the configured rate, and the share of seconds within ±20%.
//   node tools/bench/bandwidth-rates.mjs [--seconds 20] [--reps 3] [--rates 1e6,1e7,1e8] [--candidates]
// Cases: our plugin and the Go plugin with containerd's capability (bursts 4294967295), ours with a
// rate and no burst (Go refuses it), ours with the same rate as a pod annotation. --candidates adds
// raw tbfs with bursts of 1, 2 and 4 packets, 2 and 3 packets with a 4-packet queue, and of
// 1–100 ms (the study behind the burst rule in docs/bandwidth.md).
import { execa } from 'execa';
import { go, ours, sh } from './lib.mjs';

const arg = (k, d) => (process.argv.includes(k) ? process.argv[process.argv.indexOf(k) + 1] : d);
const seconds = Number(arg('--seconds', 20));
const reps = Number(arg('--reps', 3));
const rates = arg('--rates', '1e6,1e7,1e8').split(',').map(Number);
const tag = `ctbwr${process.pid.toString(36)}`;
const ns = (n) => `${tag}-${n}`;
const PODS = ['pod', 'cli', 'free'];
const ADDR = { pod: '10.97.0.2', cli: '10.97.0.3', free: '10.97.0.4' };

async function up() {
  await sh('ip', ['netns', 'add', ns('node')]);
  await sh('ip', ['-n', ns('node'), 'link', 'add', 'br0', 'type', 'bridge']);
  await sh('ip', ['-n', ns('node'), 'link', 'set', 'br0', 'up']);
  for (const p of PODS) {
    await sh('ip', ['netns', 'add', ns(p)]);
    await sh('ip', ['-n', ns(p), 'link', 'set', 'lo', 'up']);
    await sh('ip', ['-n', ns('node'), 'link', 'add', `h${p}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns(p)]);
    await sh('ip', ['-n', ns('node'), 'link', 'set', `h${p}`, 'master', 'br0', 'up']);
    await sh('ip', ['-n', ns(p), 'addr', 'add', `${ADDR[p]}/24`, 'dev', 'eth0']);
    await sh('ip', ['-n', ns(p), 'link', 'set', 'eth0', 'up']);
  }
}

async function down() {
  for (const n of ['node', ...PODS]) await execa('ip', ['netns', 'del', ns(n)], { reject: false });
}

function conf(runtimeConfig) {
  return {
    cniVersion: '1.0.0',
    name: 'bwrates',
    type: 'bandwidth',
    runtimeConfig,
    prevResult: {
      cniVersion: '1.0.0',
      interfaces: [{ name: 'hpod' }, { name: 'eth0', sandbox: `/run/netns/${ns('pod')}` }],
    },
  };
}

async function plugin(file, command, runtimeConfig) {
  return execa('ip', ['netns', 'exec', ns('node'), file], {
    input: JSON.stringify(conf(runtimeConfig)),
    env: {
      PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
      CNI_COMMAND: command,
      CNI_CONTAINERID: 'rates',
      CNI_NETNS: `/run/netns/${ns('pod')}`,
      CNI_IFNAME: 'eth0',
      CNI_PATH: '/usr/lib/cni',
    },
    extendEnv: false,
    reject: false,
  });
}

// Clears the pod's veth and any ifb, whichever plugin (or raw tc) shaped it.
async function reset() {
  await plugin(ours('bandwidth'), 'DEL', {});
  for (const d of ['root', 'ingress'])
    await execa('ip', ['netns', 'exec', ns('node'), 'tc', 'qdisc', 'del', 'dev', 'hpod', d], { reject: false });
  await execa('ip', ['-n', ns('node'), 'link', 'del', 'bwcand'], { reject: false });
}

// A raw tbf both ways with a given burst (bytes) and limit (default upstream's), as the candidates study did.
async function rawTbf(rateBits, burst, limit = Math.floor(rateBits / 8 / 40) + burst) {
  const rate = Math.floor(rateBits / 8);
  const tbf = `tbf rate ${rate}Bps burst ${burst} limit ${limit}`;
  await sh('ip', ['-n', ns('node'), 'link', 'add', 'bwcand', 'txqueuelen', '0', 'type', 'ifb']);
  await sh('ip', ['-n', ns('node'), 'link', 'set', 'bwcand', 'up']);
  const batch = [
    `qdisc add dev bwcand root handle 1: ${tbf}`,
    'qdisc add dev hpod handle ffff: ingress',
    'filter add dev hpod parent ffff: protocol all prio 1 u32 match u32 0 0 flowid 1:1 action mirred egress redirect dev bwcand',
    `qdisc add dev hpod root handle 1: ${tbf}`,
  ];
  await sh('ip', ['netns', 'exec', ns('node'), 'tc', '-batch', '-'], { input: `${batch.join('\n')}\n` });
}

async function iperf(server, secs, reverse) {
  const srv = execa('ip', ['netns', 'exec', ns(server), 'iperf3', '-s', '-1', '-J', '-p', '5301'], { reject: false });
  for (let i = 0; i < 100; i++) {
    const r = await execa('ip', ['netns', 'exec', ns(server), 'ss', '-Hltn', 'sport = :5301'], { reject: false });
    if (r.stdout.trim()) break;
    await new Promise((res) => setTimeout(res, 50));
  }
  const args = [
    '-c',
    ADDR[server],
    '-p',
    '5301',
    '-t',
    String(secs),
    '-J',
    '--get-server-output',
    ...(reverse ? ['-R'] : []),
  ];
  const out = await execa('ip', ['netns', 'exec', ns('cli'), 'iperf3', ...args], { reject: false });
  srv.kill();
  await srv;
  const j = JSON.parse(out.stdout);
  const recv = reverse ? j.intervals : j.server_output_json.intervals;
  return {
    seconds: recv.filter((i) => i.sum.seconds > 0.5).map((i) => i.sum.bits_per_second),
    mean: j.end.sum_received.bits_per_second,
  };
}

const MAXU32 = 4294967295;
const CASES = [
  [
    'ours, containerd capability (bursts 4294967295)',
    (r) =>
      plugin(ours('bandwidth'), 'ADD', {
        bandwidth: { IngressRate: r, IngressBurst: MAXU32, EgressRate: r, EgressBurst: MAXU32 },
      }),
  ],
  [
    'Go v1.1.1, containerd capability (bursts 4294967295)',
    (r) =>
      plugin(go('bandwidth'), 'ADD', {
        bandwidth: { IngressRate: r, IngressBurst: MAXU32, EgressRate: r, EgressBurst: MAXU32 },
      }),
  ],
  [
    'ours, rate without burst',
    (r) => plugin(ours('bandwidth'), 'ADD', { bandwidth: { ingressRate: r, egressRate: r } }),
  ],
  [
    'Go v1.1.1, rate without burst',
    (r) => plugin(go('bandwidth'), 'ADD', { bandwidth: { ingressRate: r, egressRate: r } }),
  ],
];
if (process.argv.includes('--candidates')) {
  for (const packets of [1, 2, 4]) {
    CASES.push([`raw tbf, burst ${packets} × 1514 B`, (r) => rawTbf(r, packets * 1514)]);
  }
  for (const [burst, queue] of [
    [2, 4],
    [3, 4],
  ]) {
    CASES.push([
      `raw tbf, burst ${burst} × 1514 B, queue ${queue} × 1514 B besides it`,
      (r) => rawTbf(r, burst * 1514, burst * 1514 + Math.max(Math.floor(r / 8 / 40), queue * 1514)),
    ]);
  }
  for (const ms of [1, 5, 10, 20, 50, 100]) {
    CASES.push([
      `raw tbf, burst ${ms} ms (at least 2 × 1514 B)`,
      (r) => rawTbf(r, Math.max(Math.floor(((r / 8) * ms) / 1000), 3028)),
    ]);
  }
}

const fmt = (x) => x.toFixed(2);
const rows = [];
await down();
await up();
try {
  for (const rate of rates) {
    for (const [name, apply] of CASES) {
      for (const [dir, reverse] of [
        ['to the pod', false],
        ['from the pod', true],
      ]) {
        const all = [];
        const firsts = [];
        const means = [];
        let refused;
        for (let i = 0; i < reps; i++) {
          await reset();
          const r = await apply(rate);
          if (r && r.exitCode !== 0) {
            refused = JSON.parse(r.stdout).msg;
            break;
          }
          const run = await iperf('pod', seconds, reverse);
          firsts.push(run.seconds[0] / rate);
          all.push(...run.seconds.map((s) => s / rate));
          means.push(run.mean / rate);
        }
        if (refused) {
          rows.push(`| ${rate / 1e6} | ${name} | ${dir} | refused: "${refused}" | | | | |`);
          break;
        }
        const within = all.filter((x) => x >= 0.8 && x <= 1.2).length / all.length;
        rows.push(
          `| ${rate / 1e6} | ${name} | ${dir} | ${firsts.map(fmt).join(' ')} | ${fmt(Math.min(...all))} | ${fmt(Math.max(...all))} | ${means.map(fmt).join(' ')} | ${(within * 100).toFixed(0)}% |`,
        );
        console.error(rows.at(-1));
      }
    }
    const free = await iperf('free', 2, false);
    rows.push(`| ${rate / 1e6} | unshaped neighbour | to the pod | | | | ${(free.mean / 1e6).toFixed(0)} Mbit/s | |`);
  }
} finally {
  await reset().catch(() => undefined);
  await down();
}
console.log(
  `\nbandwidth rates (${new Date().toISOString().slice(0, 10)}; iperf3 TCP, ${seconds} s × ${reps}; receiver side; fraction of the configured rate)`,
);
console.log(
  '| Mbit/s | case | direction | first second (each run) | worst second | best second | mean (each run) | seconds within ±20% |',
);
console.log('|---|---|---|---|---|---|---|---|');
for (const r of rows) console.log(r);
