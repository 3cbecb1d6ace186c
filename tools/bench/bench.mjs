#!/usr/bin/env node
// The plugin bench: our executables against the Go reference plugins, measured in the same run,
// inside throwaway namespaces (needs root and hyperfine). Prints markdown tables with ratios.
//   node tools/bench/bench.mjs [--runs N] [--only bandwidth]  (rates: node tools/bench/bandwidth-rates.mjs)
import { callScript, go, hyperfine, namespaces, ours, printTable, scratch } from './lib.mjs';
import { hostLocalRows } from './hostlocal.mjs';
import { bridgeRows } from './bridge.mjs';
import { portmapRows, printPortmapFigures } from './portmap.mjs';
import { bandwidthRows } from './bandwidth.mjs';

const runs = Number(process.argv[process.argv.indexOf('--runs') + 1]) || 40;
const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;
const tag = `ctbench${process.pid.toString(36)}`;
const node = `${tag}-node`;
const pod = `${tag}-pod`;
const { dir, cleanup } = scratch();
const dropNs = await namespaces([node, pod]);

try {
  if (only === 'bandwidth') {
    printTable(
      `cni-ts bench, bandwidth (${new Date().toISOString().slice(0, 10)}, ${runs} runs each)`,
      await bandwidthRows(dir, runs),
    );
  } else await everything();
} finally {
  await dropNs();
  cleanup();
}

/** Every plugin's cases, in one run. */
async function everything() {
  const version = await hyperfine(
    [
      ['ours VERSION', `CNI_COMMAND=VERSION ${ours('loopback')}`],
      ['go VERSION', `CNI_COMMAND=VERSION ${go('loopback')}`],
    ],
    { runs, dir },
  );

  const env = (cmd) => ({
    CNI_COMMAND: cmd,
    CNI_CONTAINERID: 'bench',
    CNI_NETNS: `/run/netns/${pod}`,
    CNI_IFNAME: 'eth0',
    CNI_PATH: '/opt/cni/bin',
  });
  const lo = (impl, plugin) => {
    // Go v1.1.1 speaks up to 1.0.0, so both get 1.0.0 here.
    const config = { cniVersion: '1.0.0', name: 'bench', type: 'loopback' };
    return [
      `${impl} loopback ADD+DEL`,
      `${callScript(dir, `${impl}-add`, plugin, env('ADD'), config)} && ${callScript(dir, `${impl}-del`, plugin, env('DEL'), config)}`,
    ];
  };
  const loop = await hyperfine([lo('ours', ours('loopback')), lo('go', go('loopback'))], { runs, netns: node, dir });
  const hl = await hostLocalRows(dir, runs);
  const br = await bridgeRows(dir, runs);
  const pm = await portmapRows(dir, runs);
  const bw = await bandwidthRows(dir, runs);

  printTable(`cni-ts bench (${new Date().toISOString().slice(0, 10)}, ${runs} runs each, hyperfine; lower is better)`, [
    ['VERSION', version['ours VERSION'], version['go VERSION']],
    ['loopback ADD + DEL (two executions)', loop['ours loopback ADD+DEL'], loop['go loopback ADD+DEL']],
    ...hl.rows,
    ...br,
    ...bw,
  ]);
  printTable('portmap (same run; medians)', pm.rows, { stat: 'median' });
  printPortmapFigures(pm);
  console.log(
    `\nhost-local: the 250th address of a /24 costs ${hl.ratio.ours.toFixed(2)}× the 1st (Go: ${hl.ratio.go.toFixed(2)}×)`,
  );
}
