// host-local cases of the bench: ours vs Go for ADD+DEL, and one ADD into an empty /24 vs into a
// /24 that already holds 249 reservations (the 250th address), each measured in the same run.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { callScript, go, hyperfine, ours } from './lib.mjs';

const env = (cmd) => ({
  CNI_COMMAND: cmd,
  CNI_CONTAINERID: 'bench',
  CNI_NETNS: '/var/run/netns/unused',
  CNI_IFNAME: 'eth0',
  CNI_PATH: '/opt/cni/bin',
});
// Go v1.1.1 speaks up to 1.0.0, so both get 1.0.0.
const conf = (dataDir, name) => ({
  cniVersion: '1.0.0',
  name,
  type: 'bridge',
  ipam: { type: 'host-local', dataDir, ranges: [[{ subnet: '10.1.0.0/24' }]] },
});
const IMPLS = [
  ['ours', ours('host-local')],
  ['go', go('host-local')],
];

/** Rows [what, ours, go] for the bench table; the raw results are returned as well. */
export async function hostLocalRows(dir, runs) {
  const cycle = await hyperfine(
    IMPLS.map(([impl, plugin]) => {
      const c = conf(join(dir, `hl-${impl}`), 'cycle');
      return [
        `${impl} ADD+DEL`,
        `${callScript(dir, `hl-${impl}-add`, plugin, env('ADD'), c)} && ${callScript(dir, `hl-${impl}-del`, plugin, env('DEL'), c)}`,
      ];
    }),
    { runs, dir },
  );
  const nth = await hyperfine(
    IMPLS.flatMap(([impl, plugin]) => [1, 250].map((n) => nthCase(dir, impl, plugin, n))),
    { runs, dir },
  );
  const rows = [
    ['host-local ADD + DEL (two executions)', cycle['ours ADD+DEL'], cycle['go ADD+DEL']],
    ['host-local ADD of the 1st address of a /24', nth['ours ADD #1'], nth['go ADD #1']],
    ['host-local ADD of the 250th address of a /24 (249 reserved)', nth['ours ADD #250'], nth['go ADD #250']],
  ];
  return {
    rows,
    ratio: {
      ours: nth['ours ADD #250'].mean / nth['ours ADD #1'].mean,
      go: nth['go ADD #250'].mean / nth['go ADD #1'].mean,
    },
  };
}

// One timed ADD whose address is the n-th of the /24: n-1 reservations (.2 …) are pre-filled and
// the cursor points at the last of them; the untimed prepare step undoes the previous run's ADD.
function nthCase(dir, impl, plugin, n) {
  const dataDir = join(dir, `hl-${impl}`);
  const name = `fill${n}`;
  const store = join(dataDir, name);
  mkdirSync(store, { recursive: true });
  for (let i = 2; i <= n; i++) writeFileSync(join(store, `10.1.0.${i}`), `filler-${i}\r\neth0`, { mode: 0o600 });
  const c = conf(dataDir, name);
  const cursor = join(store, 'last_reserved_ip.0');
  const reset = n > 1 ? `printf %s 10.1.0.${n} > ${cursor}` : `rm -f ${cursor}`;
  return [
    `${impl} ADD #${n}`,
    callScript(dir, `hl-${impl}-add${n}`, plugin, env('ADD'), c),
    `${callScript(dir, `hl-${impl}-undo${n}`, plugin, env('DEL'), c)}; ${reset}`,
  ];
}
