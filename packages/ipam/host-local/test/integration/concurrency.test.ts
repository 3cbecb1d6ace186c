// Concurrency and crashes through the built executable: parallel ADD/DEL never hand out an
// address twice nor lose a reservation, and a plugin killed while holding the lock does not
// leave it held.
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SYSTEM_PATH } from '@cni-ts/testutils';
import { VERSIONS, addresses, call, conf, go, ours, reservationNames, snapshot, tempDirs } from './helpers.js';

const dirs = tempDirs();
test.after.always(() => dirs.cleanup());

test('100 parallel ADDs get 100 distinct addresses per family; 100 parallel DELs leave nothing behind', async (t) => {
  const d = dirs.make('100-');
  const ids = Array.from({ length: 100 }, (_, i) => `pod-${i}`);
  const adds = await Promise.all(ids.map((id) => call(ours, 'ADD', conf(d, '1.1.0'), { id })));
  t.deepEqual(
    adds.filter((r) => r.exitCode !== 0).map((r) => r.stdout),
    [],
  );
  const got = adds.map(addresses);
  t.is(new Set(got.map((a) => a[0])).size, 100);
  t.is(new Set(got.map((a) => a[1])).size, 100);
  t.is(reservationNames(d).length, 200);
  const dels = await Promise.all(ids.map((id) => call(ours, 'DEL', conf(d, '1.1.0'), { id })));
  t.deepEqual(
    dels.map((r) => r.exitCode),
    ids.map(() => 0),
  );
  t.deepEqual(Object.keys(snapshot(d)!), ['last_reserved_ip.0', 'last_reserved_ip.1', 'lock']);
});

for (const v of VERSIONS) {
  test(`${v}: ADDs and DELs racing each other neither duplicate nor lose a reservation`, async (t) => {
    const d = dirs.make('race-');
    const early = Array.from({ length: 10 }, (_, i) => `early-${i}`);
    for (const id of early) t.is((await call(ours, 'ADD', conf(d, v), { id })).exitCode, 0);
    const late = Array.from({ length: 20 }, (_, i) => `late-${i}`);
    const [adds] = await Promise.all([
      Promise.all(late.map((id) => call(ours, 'ADD', conf(d, v), { id }))),
      Promise.all(early.slice(0, 5).map((id) => call(ours, 'DEL', conf(d, v), { id }))),
    ]);
    t.deepEqual(
      adds.map((r) => r.exitCode),
      late.map(() => 0),
    );
    const s = snapshot(d)!;
    const holders = Object.entries(s)
      .filter(([k]) => /^[\d.]+$/.test(k))
      .map(([, f]) => f.content.split('\r\n')[0])
      .sort();
    t.deepEqual(holders, [...early.slice(5), ...late].sort(), 'every live attachment holds exactly one IPv4 address');
    const v4 = adds.map((r) => addresses(r)[0]);
    t.is(new Set(v4).size, late.length);
  });
}

// Fills a /16 with many reservations so that an ADD holds the lock long enough (it reads every
// reservation file under the lock to refuse duplicate allocations) to be caught holding it.
function bigStore(d: string, n: number): string {
  const dir = join(d, 'hlbig');
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < n; i++) writeFileSync(join(dir, `10.4.${(i >> 8) + 1}.${i & 255}`), `fill-${i}\r\neth0`);
  return dir;
}

/** Resolves when `pid` holds an flock on the inode, as /proc/locks shows it; false if the process ended first. */
function caughtHolding(pid: number, ino: number, running: () => boolean): Promise<boolean> {
  const re = new RegExp(`FLOCK\\s+ADVISORY\\s+WRITE\\s+${pid}\\s+\\S+:${ino}\\s`);
  return new Promise((resolve) => {
    const poll = () => {
      if (re.test(readFileSync('/proc/locks', 'utf8'))) resolve(true);
      else if (!running()) resolve(false);
      else setImmediate(poll);
    };
    poll();
  });
}

const big = { ranges: [[{ subnet: '10.4.0.0/16' }]] };
let bigDir: string | undefined;

for (const v of VERSIONS) {
  test.serial(`${v}: a plugin killed (SIGKILL) while holding the store lock does not leave it held`, async (t) => {
    bigDir ??= dirs.make('kill-');
    const dir = join(bigDir, 'hlbig');
    if (reservationNames(bigDir, 'hlbig').length === 0) bigStore(bigDir, 12_000);
    const config = { ...conf(bigDir, v, big), name: 'hlbig' };
    // make sure the lock file exists and learn its inode
    t.is((await call(ours, 'DEL', config, { id: 'nobody' })).exitCode, 0);
    const ino = statSync(join(dir, 'lock')).ino;
    let caught = false;
    for (let attempt = 0; attempt < 5 && !caught; attempt++) {
      const child = spawn(ours, [], {
        env: {
          PATH: SYSTEM_PATH,
          CNI_COMMAND: 'ADD',
          CNI_CONTAINERID: `victim-${v}`,
          CNI_NETNS: '/x',
          CNI_IFNAME: 'eth0',
          CNI_PATH: '/x',
        },
        stdio: ['pipe', 'ignore', 'ignore'],
      });
      child.stdin.end(JSON.stringify(config));
      let running = true;
      const done = new Promise((r) =>
        child.once('exit', (_c, sig) => {
          running = false;
          r(sig);
        }),
      );
      caught = await caughtHolding(child.pid!, ino, () => running);
      if (caught) child.kill('SIGKILL');
      const sig = await done;
      if (caught) t.is(sig, 'SIGKILL');
      else await call(ours, 'DEL', config, { id: `victim-${v}` }); // it finished first: undo and try again
    }
    t.true(caught, 'the plugin was killed while /proc/locks showed it holding the lock');
    t.is(spawnSync('flock', ['-n', join(dir, 'lock'), 'true']).status, 0, 'nobody holds the lock now');
    const s = snapshot(bigDir, 'hlbig')!;
    t.deepEqual(
      Object.entries(s).filter(([k, f]) => /^10\./.test(k) && !/^[^\r]+\r\neth0$/.test(f.content)),
      [],
      'no half-written reservation',
    );
    // both plugins can use the store straight away
    const after = await call(ours, 'ADD', config, { id: `after-${v}`, env: { CNI_TS_LOCK_TIMEOUT_MS: '2000' } });
    t.is(after.exitCode, 0, after.stdout);
    const goAfter = await call(go, 'DEL', { ...config, cniVersion: '1.0.0' }, { id: `after-${v}` });
    t.is(goAfter.exitCode, 0);
    await call(ours, 'DEL', config, { id: `victim-${v}` });
  });
}

/** How many callers /proc/locks shows blocked on the flock of `path` (waiting in the kernel's queue). */
function blockedOn(path: string): number {
  const re = new RegExp(`-> FLOCK\\s+ADVISORY\\s+WRITE\\s+\\d+\\s+[0-9a-f]+:[0-9a-f]+:${statSync(path).ino}\\s`);
  return readFileSync('/proc/locks', 'utf8')
    .split('\n')
    .filter((l) => re.test(l)).length;
}

async function eventually(cond: () => boolean, ms = 5000): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 10)))
    if (cond()) return true;
  return cond();
}

test.serial(
  "a waiting ADD queues in the kernel as Go's does, so it is served before a Go ADD that came later",
  async (t) => {
    const d = dirs.make('fifo-');
    mkdirSync(join(d, 'hlnet'));
    const lock = join(d, 'hlnet', 'lock');
    // a third process holds the store lock until its stdin closes
    const holder = spawn('flock', [lock, 'sh', '-c', 'read x'], { stdio: ['pipe', 'ignore', 'ignore'] });
    let first: ReturnType<typeof call> | undefined;
    let later: ReturnType<typeof call> | undefined;
    try {
      t.true(await eventually(() => spawnSync('flock', ['-n', lock, 'true']).status === 1), 'the lock is held');
      first = call(ours, 'ADD', conf(d, '1.0.0'), { id: 'first-ours' });
      t.true(await eventually(() => blockedOn(lock) === 1), 'our ADD waits in the kernel queue (/proc/locks)');
      later = call(go, 'ADD', conf(d, '1.0.0'), { id: 'later-go' });
      t.true(await eventually(() => blockedOn(lock) === 2), "Go's ADD queues behind it");
    } finally {
      holder.stdin.end();
    }
    const [o, g] = await Promise.all([first, later]);
    t.deepEqual([o?.exitCode, g?.exitCode], [0, 0], `${o?.stdout}${g?.stdout}`);
    if (!o || !g) return;
    t.deepEqual([addresses(o)[0], addresses(g)[0]], ['10.1.0.2/24', '10.1.0.3/24'], 'served in arrival order');
  },
);

test.serial(
  'an ADD that waits longer than CNI_TS_LOCK_TIMEOUT_MS for the lock answers code 11 and reserves nothing',
  async (t) => {
    const d = dirs.make('busy-');
    mkdirSync(join(d, 'hlnet'));
    const lock = join(d, 'hlnet', 'lock');
    const holder = spawn('flock', [lock, 'sh', '-c', 'read x'], { stdio: ['pipe', 'ignore', 'ignore'] });
    try {
      t.true(await eventually(() => spawnSync('flock', ['-n', lock, 'true']).status === 1), 'the lock is held');
      const r = await call(ours, 'ADD', conf(d, '1.0.0'), { id: 'impatient', env: { CNI_TS_LOCK_TIMEOUT_MS: '300' } });
      t.deepEqual([r.exitCode, r.json?.code], [1, 11], r.stdout);
      t.regex(r.json.msg, /^the IP store of network "hlnet" is busy: could not lock .* within 300 ms/);
      t.deepEqual(reservationNames(d), []);
      t.is(blockedOn(lock), 0, 'its waiter left the queue');
    } finally {
      holder.stdin.end();
    }
  },
);
