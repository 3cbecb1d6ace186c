// Prints the bench's results as markdown: every row of issue 13 with ours, Go, the ratio and the
// goal. Goals are shown, never enforced.
import { VARIANT_OF } from './setup.mjs';

const ms = (x) => (Number.isFinite(x) ? x.toFixed(1) : '—');
const ratio = (o, g) => (Number.isFinite(o) && Number.isFinite(g) && g > 0 ? (o / g).toFixed(2) : '—');
const mib = (b) => `${(b / 2 ** 20).toFixed(1)} MiB`;

function table(head, rows) {
  console.log(`| ${head.join(' | ')} |`);
  console.log(`|${head.map(() => '---').join('|')}|`);
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
}

/** Prints the report of one bench run; returns the number of failed operations. */
export function printReport({ machine, opts, bandwidth, results }) {
  const { version, cycles, slope, parallel, memory, sizes } = results;
  console.log(
    `\n## cni-ts bench, ${machine.date} UTC: ${machine.cpus}, kernel ${machine.kernel}, bun ${machine.bun}, ` +
      `Go plugins ${machine.goPlugins}; load average ${machine.load.join(' → ')}; ${machine.seconds} s`,
  );
  console.log(
    `\nMedians in ms of plugin executions timed by the runtime (fork to exit), ${opts.reps} repetitions, ` +
      'ours and Go interleaved; ratio = ours/Go.' +
      (machine.pageCache ? ` Executables: ${machine.pageCache}.` : '') +
      (bandwidth ? '' : ' bandwidth: not in our build yet, so the chain has none (for both).'),
  );
  const c = cycles.rows;
  const s = slope.impl;
  const p = parallel.impl;
  const row = (what, x, goal) => [what, ms(x.ours), ms(x.go), ratio(x.ours, x.go), goal];
  table(
    ['what', 'ours', 'Go', 'ours/Go', 'goal'],
    [
      row('whole chain ADD + DEL per pod', c['whole chain ADD + DEL (plugin executions)'], '≤ 0.5×'),
      row('… through the runtime (libcni included)', c['whole chain ADD + DEL (runtime wall, libcni included)'], ''),
      row('bridge + host-local ADD', c['bridge + host-local ADD'], '≤ 0.8×'),
      row('bridge + host-local DEL', c['bridge + host-local DEL'], ''),
      row('portmap ADD + DEL (one mapping)', c['portmap ADD + DEL'], '≤ 0.3×'),
      ...(bandwidth ? [row('bandwidth ADD + DEL', c['bandwidth ADD + DEL'], '')] : []),
      row('loopback ADD', c['loopback ADD'], '≤ 2.5×'),
      row('VERSION (process start)', version, ''),
      [
        `chain ADD, ${slope.pods} pods in a row: growth per pod present (Theil–Sen; least squares)`,
        `${s.ours.chain.theilSen.toFixed(3)}; ${s.ours.chain.ls.toFixed(3)}`,
        `${s.go.chain.theilSen.toFixed(3)}; ${s.go.chain.ls.toFixed(3)}`,
        '',
        '≤ 0.05 ms/pod',
      ],
      [
        `… chain ADD of the first 10 / last 10 pods`,
        `${ms(s.ours.first)} / ${ms(s.ours.last)}`,
        `${ms(s.go.first)} / ${ms(s.go.last)}`,
        '',
        '',
      ],
      [
        '… the same in CPU time (Theil–Sen)',
        s.ours.chainCpu.theilSen.toFixed(3),
        s.go.chainCpu.theilSen.toFixed(3),
        '',
        '',
      ],
      ...Object.keys(s.ours.byPlugin).map((p) => [
        `… ${p} ADD growth per pod, wall / CPU (Theil–Sen)${p === 'loopback' ? ' (pod only: the machine’s drift)' : ''}`,
        perPlugin(s.ours, p),
        perPlugin(s.go, p),
        '',
        '',
      ]),
      [
        `${parallel.pods} pods ADDed in parallel, then DELed: wall (ADD + DEL), median of ${parallel.rounds}`,
        `${ms(p.ours.total)} (${ms(p.ours.add)} + ${ms(p.ours.del)})`,
        `${ms(p.go.total)} (${ms(p.go.add)} + ${ms(p.go.del)})`,
        ratio(p.ours.total, p.go.total),
        '≤ 0.5×, no failures',
      ],
      ['… failed operations', String(p.ours.failed), String(p.go.failed), '', '0'],
    ],
  );
  const variants = Object.keys(c['loopback ADD']).filter((k) => k !== 'ours' && k !== 'go');
  for (const base of ['ours', 'go']) {
    const of = variants.filter((v) => (VARIANT_OF[v] ?? 'ours') === base);
    if (!of.length) continue;
    console.log(
      `\nVariants of ${base === 'ours' ? 'ours' : 'Go’s'}, measured interleaved with it (wall / CPU medians in ms):`,
    );
    table(
      ['what', base, ...of.flatMap((v) => [v, `${v}/${base}`])],
      Object.keys(c)
        .filter((k) => cycles.cpu[k] && (bandwidth || !k.startsWith('bandwidth')))
        .map((k) => [
          k,
          `${ms(c[k][base])} / ${ms(cycles.cpu[k][base])}`,
          ...of.flatMap((v) => [
            `${ms(c[k][v])} / ${ms(cycles.cpu[k][v])}`,
            `${ratio(c[k][v], c[k][base])} / ${ratio(cycles.cpu[k][v], cycles.cpu[k][base])}`,
          ]),
        ]),
    );
  }
  const u = cycles.cpu;
  console.log(
    '\nCPU time (user + system of the plugin and the processes it waited for; medians in ms): what a loaded ' +
      'machine disturbs least, for comparing our own code paths between runs.',
  );
  table(
    ['what', 'ours', 'Go', 'ours/Go'],
    [
      ['whole chain ADD + DEL per pod', u['whole chain ADD + DEL (plugin executions)']],
      ['bridge + host-local ADD', u['bridge + host-local ADD']],
      ['bridge + host-local DEL', u['bridge + host-local DEL']],
      ['portmap ADD + DEL', u['portmap ADD + DEL']],
      ...(bandwidth ? [['bandwidth ADD + DEL', u['bandwidth ADD + DEL']]] : []),
      ['loopback ADD', u['loopback ADD']],
      ['VERSION', version.cpu],
    ].map(([what, x]) => [what, ms(x.ours), ms(x.go), ratio(x.ours, x.go)]),
  );
  console.log('\nPeak resident memory per plugin run (MiB, highest / median of 3 pod cycles under GNU time):');
  table(
    ['plugin run', 'ours', 'Go'],
    Object.entries(memory.byPlugin)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([key, v]) => [key, mem(v.ours), mem(v.go)]),
  );
  console.log(
    `\nExecutable size: ours ${mib(sizes.ours)} (one executable, every plugin a hard link to it); ` +
      `Go ${mib(sizes.goChain)} for the chain's ${sizes.types.length} plugins ` +
      `(${sizes.types.map((t) => `${t} ${mib(sizes.go[t])}`).join(', ')}).`,
  );
  const failed = [...version.failures, ...cycles.failures, ...slope.failures, ...parallel.failures, ...memory.failures];
  if (failed.length) {
    console.log(`\n${failed.length} operations failed:`);
    for (const f of failed.slice(0, 20)) console.log(`- ${f}`);
  }
  return failed.length;
}

function perPlugin(impl, p) {
  const x = impl.byPlugin[p];
  return x ? `${x.wall.theilSen.toFixed(3)} / ${x.cpu.theilSen.toFixed(3)}` : '—';
}

function mem(v) {
  return v ? `${(v.max / 1024).toFixed(1)} / ${(v.median / 1024).toFixed(1)}` : '—';
}
