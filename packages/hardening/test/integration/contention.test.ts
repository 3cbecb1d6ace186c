// Contention: 50 chain ADDs at once on one node, then 50 DELs at once, while another program
// holds the xtables lock. The node uses legacy iptables here (shims map iptables-* to
// iptables-legacy-*; the nf_tables variant has no lock), and the lock is our own file
// (XTABLES_LOCKFILE), never the machine's /run/xtables.lock. A short hold is waited out; a hold
// longer than the bounded wait gives only retryable code-11 errors, which succeed on retry. At the
// end every container has exactly the rules one ADD makes (none lost, none twice), every address
// is distinct, and after the DELs nothing is left.
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { rootTest, sh } from '@cni-ts/testutils';
import {
  type ChainOptions,
  type World,
  chainAdd,
  chainDel,
  conflist,
  contractProblems,
  dropWorld,
  makeShims,
  makeWorld,
  netnsState,
  reservations,
  which,
} from '../../src/index.js';

const rt = rootTest(test, 'hardening/contention');
let w: World | undefined;
rt.after.always(async () => dropWorld(w));

const N = 50;

async function legacyRules(w: World): Promise<string[]> {
  const out: string[] = [];
  for (const tool of ['iptables-legacy-save', 'ip6tables-legacy-save'])
    out.push(
      ...(await sh('ip', ['netns', 'exec', w.node.node.name, tool])).split('\n').filter((l) => l.startsWith('-A')),
    );
  return out;
}

// Holds the lock file for `ms` with flock(1); resolves once it is held, with the holder's end
// (wrapped: a bare subprocess is a thenable, and returning it would wait for its end).
async function holdLock(lockfile: string, ms: number): Promise<{ done: Promise<unknown> }> {
  const child = execa('flock', [lockfile, 'sh', '-c', `echo held; sleep ${ms / 1000}`], { reject: false });
  await new Promise<void>((resolve) => child.stdout?.once('data', () => resolve()));
  return { done: child };
}

// Runs fn(i) for every container with retries on code 11 (as a runtime retries); returns the errors seen.
async function allWithRetry(fn: (id: string) => Promise<{ ok: boolean; code?: number; out: string }>) {
  const seen: string[] = [];
  await Promise.all(
    Array.from({ length: N }, async (_, i) => {
      const id = `hd-c${i}`;
      for (let attempt = 1; ; attempt++) {
        const r = await fn(id);
        if (r.ok) return;
        seen.push(`${id} attempt ${attempt}: code ${r.code}: ${r.out.slice(0, 200)}`);
        if (r.code !== 11 || attempt >= 5) return;
        await new Promise((res) => setTimeout(res, 500));
      }
    }),
  );
  return seen;
}

rt.serial(`${N} parallel chain ADDs and DELs while another program holds the xtables lock`, async (t) => {
  w = await makeWorld('hdct');
  const world = w;
  const shims = makeShims(w.dir);
  // legacy iptables behind the names the plugins run
  for (const fam of ['iptables', 'ip6tables'])
    for (const verb of ['save', 'restore']) {
      const f = join(shims.dir, `${fam}-${verb}`);
      writeFileSync(f, `#!/bin/sh\nexec '${which(`${fam}-legacy-${verb}`)}' "$@"\n`);
      chmodSync(f, 0o755);
    }
  const lockfile = join(w.dir, 'xtables.lock');
  writeFileSync(lockfile, '');
  const opts: ChainOptions = { shimDir: shims.dir, env: { XTABLES_LOCKFILE: lockfile }, hangMs: 120_000 };
  const list = conflist(w, 'iptables');

  const one = await chainAdd(world, list, { ...opts, containerId: 'hd-solo' });
  t.true(one.ok, `a single ADD: ${one.runs.at(-1)?.stdout}`);
  const perContainer = (await legacyRules(world)).filter((l) => l.includes('id: \\"hd-solo\\"')).length;
  t.true(perContainer >= 3, `one ADD makes ${perContainer} commented rules`);
  await chainDel(world, list, one.lastResult, { ...opts, containerId: 'hd-solo' });
  const baseline = await legacyRules(world);

  const pods = new Map<string, string>();
  for (let i = 0; i < N; i++) pods.set(`hd-c${i}`, (await world.node.addPod(`p${i}`, { loUp: false })).path);
  const results = new Map<string, unknown>();
  const add = (id: string) =>
    chainAdd(world, list, { ...opts, containerId: id, netns: pods.get(id) }).then((r) => {
      const last = r.runs.at(-1)!;
      if (r.ok) results.set(id, r.lastResult);
      const bad = r.runs.flatMap((x) => contractProblems('ADD', x, list.cniVersion));
      return { ok: r.ok && bad.length === 0, code: last.json?.code, out: bad.join('; ') || last.stdout };
    });

  // a hold shorter than the bounded wait: everyone waits it out
  const short = await holdLock(lockfile, 2000);
  const errorsShort = await allWithRetry(add);
  await short.done;
  t.deepEqual(errorsShort, [], 'a 2 s hold is waited out');
  const rules = await legacyRules(world);
  for (let i = 0; i < N; i++) {
    const mine = rules.filter((l) => l.includes(`id: \\"hd-c${i}\\"`)).length;
    t.is(mine, perContainer, `hd-c${i} has ${mine} commented rules, one ADD makes ${perContainer}`);
  }
  const addrs = [...results.values()].map((r: any) => r.ips?.[0]?.address);
  t.is(new Set(addrs).size, N, 'every container got its own address');

  // a hold longer than the bounded wait during the DELs: the lock is held until every DEL has
  // answered once (each needs it: code 11 after the 5 s wait), then released; the retries succeed
  // flock -o: the lock stays with flock itself, which exits (releasing it) when `read` gets a line
  const holder = execa('flock', ['-o', lockfile, 'sh', '-c', 'echo held; read x'], { reject: false, timeout: 170_000 });
  await new Promise<void>((resolve) => holder.stdout?.once('data', () => resolve()));
  const del = async (id: string) => {
    const runs = await chainDel(world, list, results.get(id), { ...opts, containerId: id, netns: pods.get(id) });
    const bad = runs.find((r) => r.exitCode !== 0);
    return { ok: !bad, code: bad?.json?.code as number | undefined, out: bad?.stdout ?? '' };
  };
  const first = await Promise.all([...pods.keys()].map(async (id) => ({ id, ...(await del(id)) })));
  holder.stdin?.end('release\n');
  await holder;
  t.deepEqual(
    first.filter((r) => r.code !== 11).map((r) => `${r.id}: ${r.ok ? 'succeeded while the lock was held' : r.out}`),
    [],
    'every DEL that needed the held lock answered code 11',
  );
  const errorsRetry = await allWithRetry(del);
  t.deepEqual(errorsRetry, [], 'every DEL succeeds once the lock is free');
  t.deepEqual(await legacyRules(world), baseline, 'every rule of the 50 containers is gone');
  t.deepEqual(reservations(world.dataDir), []);
  const node = await netnsState(world.node.node.name);
  t.deepEqual(
    [
      ...node.links!.filter((l) => /kind=(veth|ifb)/.test(l)),
      ...node.qdiscs!.filter((l) => /^qdisc (tbf|ingress)/.test(l)),
    ],
    [],
    'no veth, ifb or shaping qdisc of the 50 pods is left',
  );
});
