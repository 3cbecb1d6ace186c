// Crash consistency: a whole chain ADD (loopback → bridge with host-local → portmap → bandwidth,
// and every plugin in CHAIN) is killed at a random point — the plugin itself at a random moment, or through
// the shims at a random call of `ip`, `nsenter`, `iptables-restore`, `nft`, … or of the delegated
// host-local: its caller killed before the call, the tool killed while it runs, or the caller
// killed right after the tool finished. Then the chain DEL, with the partial result the runtime
// has, with none, or with none and no runtimeConfig either: every DEL exits 0, nothing is left (links, addresses, routes, rules, qdiscs,
// reservations, held locks), and an ADD of the same container works and is cleaned up again.
// HD_TRIALS sets the number of trials (CI: a small sample; the long mode runs hundreds), HD_SEED
// replays a run.
import test from 'ava';
import { rootTest } from '@cni-ts/testutils';
import { ourPlugin } from '@cni-ts/testutils';
import {
  type Backend,
  type ChainRun,
  CHAIN,
  type KillHow,
  type Snapshot,
  type World,
  acted,
  armKill,
  calls,
  chainAdd,
  chainDel,
  conflist,
  contractProblems,
  dropWorld,
  leftovers,
  makeShims,
  makeWorld,
  prng,
  resetShims,
  runSeed,
  trials,
  worldState,
} from '../../src/index.js';

const rt = rootTest(test, 'hardening/crash');
let w: World | undefined;
rt.after.always(async () => dropWorld(w));

const BACKENDS: Backend[] = ['iptables', 'nftables'];
const HOWS: KillHow[] = ['caller', 'tool', 'after'];
/** How the plugins change links: rtnetlink in the executable, or the ip fallback. */
const LINKS = ['netlink', 'ip'] as const;
const linkEnv = (links: (typeof LINKS)[number]): Record<string, string> =>
  links === 'ip' ? { CNI_TS_NETLINK: '0' } : {};

rt.serial('a chain ADD killed at random points is cleaned by the chain DEL, with or without prevResult', async (t) => {
  const seed = runSeed();
  const n = trials(8);
  t.log(`seed ${seed}, ${n} trials (replay: HD_SEED=${seed} HD_TRIALS=${n})`);
  const rnd = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  w = await makeWorld('hdcr');
  const world = w;
  const shims = makeShims(w.dir, undefined, { 'host-local': ourPlugin('host-local') });
  const opts = { shimDir: shims.dir, hangMs: 60_000 };

  // warm-up with both backends, links through rtnetlink (the executables' way) and through the ip
  // fallback (CNI_TS_NETLINK=0): the bridge and the shared chains exist from here on, as on a node
  // that has run pods; measure each plugin's time and the number of shimmed calls of an ADD
  const callsPer: Record<string, number> = {};
  const msPer: number[] = CHAIN.map(() => 0);
  for (const [b, links] of BACKENDS.flatMap((b) => LINKS.map((l) => [b, l] as const))) {
    resetShims(shims);
    const list = conflist(world, b);
    const add = await chainAdd(world, list, { ...opts, env: linkEnv(links) });
    t.true(add.ok, `warm-up ADD (${b}) failed: ${add.runs.map((r) => r.stdout).join(' | ')}`);
    callsPer[`${b}/${links}`] = calls(shims).length;
    add.runs.forEach((r, i) => {
      msPer[i] = Math.max(msPer[i]!, r.ms);
    });
    const del = await chainDel(world, list, add.lastResult, { ...opts, env: linkEnv(links) });
    t.true(
      del.every((r) => r.exitCode === 0),
      'warm-up DEL failed',
    );
  }
  const baseline: Snapshot = await worldState(world);
  t.log(`shimmed calls per ADD: ${JSON.stringify(callsPer)}; plugin ms: ${msPer.map((m) => m.toFixed(0)).join(' ')}`);

  const failures: string[] = [];
  const tally = new Map<string, number>();
  for (let trial = 0; trial < n; trial++) {
    const backend = pick(BACKENDS);
    const list = conflist(world, backend);
    resetShims(shims);
    let plan: string;
    let add: ChainRun;
    if (rnd() < 0.6) {
      // kills at a tool call: half of them on the ip fallback, which has more calls to hit
      const links = pick(LINKS);
      const count = callsPer[`${backend}/${links}`]!;
      const at = 1 + Math.floor(rnd() * count);
      const how = pick(HOWS);
      armKill(shims, at, how, rnd() * 0.03);
      add = await chainAdd(world, list, { ...opts, env: linkEnv(links) });
      plan = `${links}, shim call ${at}/${count} ${how}: ${acted(shims) ?? 'not reached'}`;
    } else {
      const index = Math.floor(rnd() * CHAIN.length);
      const afterMs = Math.floor(rnd() * msPer[index]! * 1.2);
      // half of these with host-local in-process (CNI_PATH without its shim): the kill of bridge
      // is then also a kill of the IPAM plugin in the middle of its work
      const ipamInProcess = rnd() < 0.5;
      add = await chainAdd(world, list, { ...opts, ipamInProcess, killPlugin: { index, afterMs } });
      plan = `SIGKILL ${CHAIN[index]!.type} after ${afterMs} ms${add.runs[index]?.killed ? '' : ' (it had finished)'}${ipamInProcess ? ', host-local in-process' : ''}`;
    }
    resetShims(shims);
    // DEL with the result the runtime has; without it; without it and without runtimeConfig (from
    // container id, network name and ifname alone)
    const withPrev = trial % 2 === 0;
    const bare = trial % 4 === 3;
    const delHow = withPrev ? 'with prevResult' : bare ? 'without prevResult or runtimeConfig' : 'without prevResult';
    const what = `trial ${trial} (${backend}, ${plan}, DEL ${delHow})`;
    const key = add.ok ? 'ADD survived' : `ADD failed at ${CHAIN[add.runs.length - 1]!.type}`;
    tally.set(key, (tally.get(key) ?? 0) + 1);
    for (const r of add.runs) {
      if (r.killed || r.exitCode === null || r.exitCode === 137) continue;
      const p = contractProblems('ADD', r, list.cniVersion);
      if (p.length) failures.push(`${what}: ADD output: ${p.join('; ')}`);
    }
    const dels = await chainDel(world, list, withPrev ? add.lastResult : undefined, { ...opts, bare });
    dels.forEach((r, i) => {
      const type = CHAIN[CHAIN.length - 1 - i]!.type;
      if (r.exitCode !== 0) failures.push(`${what}: ${type} DEL exit ${r.exitCode}: ${r.stdout}${r.stderr}`);
    });
    const left = await leftovers(world, baseline);
    if (left.length) failures.push(`${what}: left after DEL: ${left.join(' | ')}`);
    const again = await chainAdd(world, list, opts);
    if (!again.ok) failures.push(`${what}: the next ADD failed: ${again.runs.at(-1)?.stdout}`);
    const dels2 = await chainDel(world, list, again.lastResult, opts);
    if (dels2.some((r) => r.exitCode !== 0)) failures.push(`${what}: DEL after the next ADD failed`);
    const left2 = await leftovers(world, baseline);
    if (left2.length) failures.push(`${what}: left after the second DEL: ${left2.join(' | ')}`);
    if (failures.length > 5) break;
  }
  t.log(`outcomes: ${JSON.stringify(Object.fromEntries(tally))}`);
  t.deepEqual(failures, [], `seed ${seed}`);
});
