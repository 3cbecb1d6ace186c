// A corrupted result cache (libcni's <cacheDir>/results/<network>-<id>-<ifname>: truncated,
// garbage, an empty object, a directory, a symbolic link to a file elsewhere) never crashes the
// runtime side or blocks the pod's teardown: DEL drops what it cannot read and cleans without
// prevResult, leaving nothing; CHECK fails with an error that names the cache, never a stack; a
// file the link points to is never written.
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { CniRuntime, binDir, rootTest } from '@cni-ts/testutils';
import { CHAIN, type World, conflist, dropWorld, leftovers, makeWorld, worldState } from '../../src/index.js';

const rt = rootTest(test, 'hardening/cache');
const worlds: World[] = [];
rt.after.always(async () => {
  for (const w of worlds) await dropWorld(w);
});

const CORRUPTIONS: Array<[string, (file: string, victim: string) => void]> = [
  ['truncated', (f) => writeFileSync(f, readFileSync(f, 'utf8').slice(0, 40))],
  ['binary garbage', (f) => writeFileSync(f, Buffer.from([0, 1, 2, 255, 10]))],
  ['an empty object', (f) => writeFileSync(f, '{}')],
  [
    'a result of the wrong shape',
    (f) => writeFileSync(f, JSON.stringify({ kind: 'cniCacheV1', result: { ips: 'x' } })),
  ],
  [
    'a directory',
    (f) => {
      rmSync(f);
      mkdirSync(f);
    },
  ],
  [
    'a symbolic link to a file elsewhere',
    (f, victim) => {
      rmSync(f);
      symlinkSync(victim, f);
    },
  ],
];

for (const [what, corrupt] of CORRUPTIONS) {
  rt(`a cached result that is ${what}: DEL cleans everything, CHECK fails clearly`, async (t) => {
    const w = await makeWorld('hdca');
    worlds.push(w);
    const cacheDir = join(w.dir, 'cache');
    const victim = join(w.dir, 'victim');
    writeFileSync(victim, 'untouched');
    const runtime = new CniRuntime({ cniPath: [binDir], inNetns: w.node.node.name, cacheDir });
    const list = conflist(w, 'iptables');
    const attachment = {
      containerId: 'hd-ctr',
      netns: w.pod.path,
      ifname: 'eth0',
      capabilityArgs: Object.assign({}, ...CHAIN.map((p) => p.capabilityArgs ?? {})),
    };
    const warm = { ...attachment, containerId: 'hd-warm' };
    await runtime.add(list as never, warm);
    await runtime.del(list as never, warm);
    const baseline = await worldState(w);
    await runtime.add(list as never, attachment);
    corrupt(join(cacheDir, 'results', 'hdnet-hd-ctr-eth0'), victim);
    const check = await runtime.check(list as never, attachment).then(
      () => undefined,
      (e: Error) => e,
    );
    if (check) {
      t.notRegex(check.message, /^\s+at /m, 'no stack in the CHECK error');
      t.log(`CHECK: ${JSON.stringify(check.message.split('\n')[0])}`); // JSON: the message may quote garbage bytes
    }
    await runtime.del(list as never, attachment);
    t.deepEqual(await leftovers(w, baseline), [], 'DEL left something');
    t.is(readFileSync(victim, 'utf8'), 'untouched');
  });
}
