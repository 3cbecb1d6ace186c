// A corrupted host-local store — truncated or garbage reservation files, a garbage cursor, files
// owned by someone else with no permissions, symbolic links, directories and FIFOs where files
// belong, a lock that is a link — gives a clear error or is worked around; never a crash, a hang,
// a write through a link, or one address handed to two containers. And host-local killed at random
// moments of its ADD leaves reservations whole or absent (upstream's can be created but not yet
// written), which DEL releases; GC removes the temporary files of killed writers.
import { chmodSync, chownSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { binDir, ourPlugin, rootTest } from '@cni-ts/testutils';
import {
  type World,
  contractProblems,
  dropWorld,
  invoke,
  makeWorld,
  prng,
  runSeed,
  storeFiles,
  trials,
} from '../../src/index.js';

const rt = rootTest(test, 'hardening/store');
const worlds: World[] = [];
rt.after.always(async () => {
  for (const w of worlds) await dropWorld(w);
});

const conf = (w: World) => ({
  cniVersion: '1.0.0',
  name: 'hdnet',
  type: 'bridge',
  ipam: { type: 'host-local', ranges: [[{ subnet: '10.77.0.0/29' }]], dataDir: w.dataDir },
});

function hl(w: World, command: string, id: string, killAfterMs?: number, config: unknown = conf(w)) {
  return invoke({
    plugin: ourPlugin('host-local'),
    inNetns: w.node.node.name,
    env: { CNI_COMMAND: command, CNI_CONTAINERID: id, CNI_NETNS: w.pod.path, CNI_IFNAME: 'eth0', CNI_PATH: binDir },
    config,
    hangMs: 15_000,
    ...(killAfterMs !== undefined ? { killAfterMs } : {}),
  });
}

interface Corruption {
  what: string;
  /** Damages the store dir `s` (victim: a file outside the store that must never change). */
  make: (s: string, victim: string) => Promise<void> | void;
  /** Addresses that must not be handed out (their files are damaged). */
  blocked: string[];
  /** When set, ADD must fail with this code instead of allocating. */
  code?: number;
}

const CORRUPTIONS: Corruption[] = [
  {
    what: 'a truncated (empty) reservation file',
    make: (s) => writeFileSync(join(s, '10.77.0.2'), ''),
    blocked: ['10.77.0.2'],
  },
  {
    what: 'a reservation file of binary garbage',
    make: (s) => writeFileSync(join(s, '10.77.0.2'), Buffer.from([0, 255, 13, 10, 0, 7, 200])),
    blocked: ['10.77.0.2'],
  },
  {
    what: 'a garbage round-robin cursor',
    make: (s) => writeFileSync(join(s, 'last_reserved_ip.0'), 'zz\n\0 10.99.0.1'),
    blocked: [],
  },
  {
    what: 'a cursor pointing outside the range',
    make: (s) => writeFileSync(join(s, 'last_reserved_ip.0'), '192.168.1.1'),
    blocked: [],
  },
  {
    what: 'a reservation and the cursor owned by another user, mode 000',
    make: (s) => {
      for (const [f, text] of [
        ['10.77.0.2', 'other\r\neth0'],
        ['last_reserved_ip.0', '10.77.0.2'],
      ] as const) {
        writeFileSync(join(s, f), text);
        chownSync(join(s, f), 12345, 12345);
        chmodSync(join(s, f), 0);
      }
    },
    blocked: ['10.77.0.2'],
  },
  {
    what: 'a reservation that is a symbolic link to a file outside the store',
    make: (s, victim) => symlinkSync(victim, join(s, '10.77.0.2')),
    blocked: ['10.77.0.2'],
  },
  {
    what: 'a cursor that is a symbolic link to a file outside the store',
    make: (s, victim) => symlinkSync(victim, join(s, 'last_reserved_ip.0')),
    blocked: [],
  },
  {
    what: 'a directory and a FIFO named like addresses',
    make: async (s) => {
      mkdirSync(join(s, '10.77.0.2'));
      await execa('mkfifo', [join(s, '10.77.0.3')]);
    },
    blocked: ['10.77.0.2', '10.77.0.3'],
  },
  {
    what: 'a lock file that is a symbolic link',
    make: (s, victim) => symlinkSync(victim, join(s, 'lock')),
    blocked: [],
    code: 5,
  },
  {
    what: 'a store that is a regular file',
    make: (s) => writeFileSync(s, 'not a directory'),
    blocked: [],
    code: 7,
  },
];

for (const c of CORRUPTIONS) {
  rt(`host-local with ${c.what}: a clear error or a distinct free address, never a write outside`, async (t) => {
    const w = await makeWorld('hdst');
    worlds.push(w);
    const store = join(w.dataDir, 'hdnet');
    const victim = join(w.dir, 'victim');
    writeFileSync(victim, 'untouched');
    mkdirSync(w.dataDir);
    if (c.what !== 'a store that is a regular file') mkdirSync(store);
    await c.make(store, victim);
    const got: string[] = [];
    for (const id of ['hd-a', 'hd-b', 'hd-c']) {
      const r = await hl(w, 'ADD', id);
      t.deepEqual(contractProblems('ADD', r, '1.0.0'), [], r.stdout);
      if (c.code !== undefined) {
        t.is(r.json?.code, c.code, r.stdout);
        t.regex(String(r.json?.msg), /store|lock|dataDir|directory|link/i);
        continue;
      }
      t.is(r.exitCode, 0, `ADD ${id}: ${r.stdout}`);
      got.push(String(r.json?.ips?.[0]?.address).split('/')[0]!);
    }
    t.is(new Set(got).size, got.length, `an address was handed out twice: ${got.join(', ')}`);
    for (const ip of c.blocked) t.false(got.includes(ip), `${ip} (damaged) was handed out`);
    t.is(readFileSync(victim, 'utf8'), 'untouched', 'a file outside the store was written');
    for (const id of ['hd-a', 'hd-b', 'hd-c']) {
      const d = await hl(w, 'DEL', id);
      t.deepEqual(contractProblems('DEL', d), []);
      if (c.code === undefined) t.is(d.exitCode, 0, `DEL ${id}: ${d.stdout}`);
    }
    if (c.code === undefined) {
      const left = readdirSync(store).filter((f) => got.includes(f));
      t.deepEqual(left, [], 'DEL released every address it handed out');
    }
    t.is(readFileSync(victim, 'utf8'), 'untouched');
  });
}

rt.serial(
  'host-local killed at random moments of ADD: every reservation is whole, DEL and GC leave nothing',
  async (t) => {
    const seed = runSeed();
    const n = trials(30);
    t.log(`seed ${seed}, ${n} kills (replay: HD_SEED=${seed} HD_TRIALS=${n})`);
    const rnd = prng(seed);
    const w = await makeWorld('hdsa');
    worlds.push(w);
    const wide = {
      ...conf(w),
      ipam: { type: 'host-local', ranges: [[{ subnet: '10.77.0.0/24' }]], dataDir: w.dataDir },
    };
    const store = join(w.dataDir, 'hdnet');
    const clean = await hl(w, 'ADD', 'hd-m', undefined, wide);
    t.is(clean.exitCode, 0, clean.stdout);
    t.is((await hl(w, 'DEL', 'hd-m', undefined, wide)).exitCode, 0);
    const owners = new Set<string>();
    const tally = { killed: 0, finished: 0, strays: 0 };
    const torn: string[] = [];
    for (let i = 0; i < n; i++) {
      const id = `hd-k${i}`;
      owners.add(id);
      // mostly late in the run, where the store is written
      const r = await hl(w, 'ADD', id, Math.floor(clean.ms * (0.3 + rnd())), wide);
      if (r.killed) tally.killed++;
      else {
        tally.finished++;
        t.deepEqual(contractProblems('ADD', r, '1.0.0'), [], r.stdout);
      }
      for (const f of readdirSync(store)) {
        if (!/^10\./.test(f)) continue;
        const owner = readFileSync(join(store, f), 'utf8').split('\r\n');
        if (owner.length !== 2 || !owners.has(owner[0]!) || owner[1] !== 'eth0')
          torn.push(`after kill ${i}: ${f} holds ${JSON.stringify(owner.join('\r\n'))}`);
      }
    }
    t.deepEqual(torn, [], 'a reservation file was seen that is not whole');
    tally.strays = readdirSync(store).filter((f) => f.startsWith('.')).length;
    for (const id of owners) {
      const d = await hl(w, 'DEL', id, undefined, wide);
      t.is(d.exitCode, 0, `DEL ${id}: ${d.stdout}`);
    }
    t.deepEqual(
      readdirSync(store).filter((f) => /^10\./.test(f)),
      [],
      'DEL released every reservation',
    );
    const gc = await hl(w, 'GC', 'hd-gc', undefined, { ...wide, cniVersion: '1.1.0', 'cni.dev/valid-attachments': [] });
    t.is(gc.exitCode, 0, gc.stdout);
    t.deepEqual(
      storeFiles(store).filter((f) => f !== 'lock' && !/^last_reserved_ip\.\d+$/.test(f)),
      [],
      'GC removed what killed writers left',
    );
    t.log(
      `host-local ADDs killed mid-run: ${tally.killed}, finished: ${tally.finished}; temporary files left: ${tally.strays}`,
    );
  },
);
