import test from 'ava';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ProcessError, lockFile } from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'cts-lock-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

const lockModule = new URL('../src/lock.js', import.meta.url).href;
const bun = fileURLToPath(new URL('../../../../node_modules/.bin/bun', import.meta.url));

// A process that takes the lock, prints how, and holds it until its stdin closes (or it is killed).
const holderScript = join(dir, 'hold.mjs');
writeFileSync(
  holderScript,
  `import { lockFile } from ${JSON.stringify(lockModule)};
const l = await lockFile(process.argv[2], { timeoutMs: Number(process.argv[3]), forceHelper: process.argv[4] === 'helper' });
process.stdout.write(l.via + '\\n');
process.stdin.on('data', () => {});
process.stdin.on('end', () => { l.release(); process.exit(0); });
`,
);

let n = 0;
const fresh = () => join(dir, `lock${++n}`);

/** Starts a holder under `runtime` and resolves with its first line once it holds the lock. */
function hold(
  runtime: string,
  path: string,
  timeoutMs = 5000,
  helper = false,
): Promise<{ child: ChildProcess; via: string }> {
  const child = spawn(runtime, [holderScript, path, String(timeoutMs), helper ? 'helper' : ''], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.stdout!.once('data', (d) => resolve({ child, via: String(d).trim() }));
    child.once('exit', (code) => reject(new Error(`holder exited ${code}`)));
  });
}

const exited = (c: ChildProcess) =>
  new Promise((r) => (c.exitCode !== null || c.signalCode ? r(null) : c.once('exit', r)));
/** True when flock(1) could take the lock right now (as another program on the node would). */
const freeForOthers = (path: string) => spawnSync('flock', ['-n', path, 'true']).status === 0;

test('lockFile creates the lock file 0750 and other flock users see it held until release', async (t) => {
  const path = fresh();
  const lock = await lockFile(path);
  t.is(lock.via, 'flock(1)', 'under Node the flock(1) helper takes it');
  t.is(statSync(path).mode & 0o777, 0o750 & ~process.umask());
  t.false(freeForOthers(path));
  lock.release();
  lock.release(); // idempotent
  t.true(freeForOthers(path));
});

test('a held lock makes a second taker fail with a busy error (CNI code 11) after its timeout', async (t) => {
  const path = fresh();
  const lock = await lockFile(path);
  const started = Date.now();
  const e = await t.throwsAsync(lockFile(path, { timeoutMs: 300 }), { instanceOf: ProcessError });
  t.true(Date.now() - started >= 250, 'it waited for the timeout');
  t.is(e?.kind, 'busy');
  t.is(e?.cniCode, 11);
  t.regex(e!.message, /could not lock .*lock\d+ within 300 ms/);
  lock.release();
  (await lockFile(path, { timeoutMs: 300 })).release();
});

test('a waiter gets the lock as soon as the holder releases it', async (t) => {
  const path = fresh();
  const lock = await lockFile(path);
  setTimeout(() => lock.release(), 200);
  const second = await lockFile(path, { timeoutMs: 5000 });
  t.false(freeForOthers(path));
  second.release();
});

test('a holder killed with SIGKILL leaves no lock behind', async (t) => {
  const path = fresh();
  const { child } = await hold(process.execPath, path);
  t.false(freeForOthers(path));
  child.kill('SIGKILL');
  await exited(child);
  (await lockFile(path, { timeoutMs: 2000 })).release();
  t.pass();
});

test('a lock path that is a symbolic link is refused', async (t) => {
  const target = fresh();
  writeFileSync(target, '');
  const link = fresh();
  symlinkSync(target, link);
  const e = await t.throwsAsync(lockFile(link), { instanceOf: ProcessError });
  t.regex(e!.message, /cannot open lock file .*: it is a symbolic link/);
});

const bunTest = existsSync(bun) ? test : test.skip;

bunTest('under Bun the lock is flock(2) via bun:ffi and excludes the Node side, both ways', async (t) => {
  const path = fresh();
  const { child, via } = await hold(bun, path);
  t.is(via, 'ffi');
  t.false(freeForOthers(path));
  const e = await t.throwsAsync(lockFile(path, { timeoutMs: 200 }), { instanceOf: ProcessError });
  t.is(e?.kind, 'busy');
  child.kill('SIGKILL');
  await exited(child);
  const mine = await lockFile(path, { timeoutMs: 2000 });
  // now Bun must wait for us, and get it once we let go
  const waiting = hold(bun, path, 5000);
  await new Promise((r) => setTimeout(r, 300));
  mine.release();
  const second = await waiting;
  t.is(second.via, 'flock(1)', 'it waited, so in the kernel queue through flock(1)');
  second.child.stdin!.end();
  await exited(second.child);
  t.true(freeForOthers(path));
});

bunTest('under Bun a busy ffi lock times out with code 11', async (t) => {
  const path = fresh();
  const mine = await lockFile(path);
  const r = spawnSync(bun, [holderScript, path, '200'], { input: '', encoding: 'utf8' });
  t.not(r.status, 0);
  t.regex(r.stderr, /could not lock .* within 200 ms/);
  mine.release();
});

/** How many callers /proc/locks shows blocked on the flock of `path` (waiting in the kernel's queue). */
function blockedOn(path: string): number {
  const ino = statSync(path).ino;
  const re = new RegExp(`-> FLOCK\\s+ADVISORY\\s+WRITE\\s+\\d+\\s+[0-9a-f]+:[0-9a-f]+:${ino}\\s`);
  return readFileSync('/proc/locks', 'utf8')
    .split('\n')
    .filter((l) => re.test(l)).length;
}

/** Polls `cond` every 10 ms for up to `ms`; true once it holds. */
async function eventually(cond: () => boolean, ms = 5000): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 10)))
    if (cond()) return true;
  return cond();
}

bunTest(
  "under Bun a waiter queues in the kernel, as Go's host-local does, and is served before a later one",
  async (t) => {
    const path = fresh();
    const mine = await lockFile(path);
    let oursHolds = false;
    const ours = hold(bun, path, 10_000).then((h) => {
      oursHolds = true;
      return h;
    });
    t.true(await eventually(() => blockedOn(path) === 1), 'our waiter is in the kernel queue (/proc/locks)');
    // a blocking flock(2) waiter arriving later, as go-filemutex waits
    const go = spawn('flock', [path, 'true'], { stdio: 'ignore' });
    t.true(await eventually(() => blockedOn(path) === 2), 'the later waiter queues behind it');
    mine.release();
    const o = await ours;
    t.is(o.via, 'flock(1)');
    t.is(go.exitCode, null, 'the later waiter still waits while ours holds the lock');
    t.is(blockedOn(path), 1);
    o.child.stdin!.end();
    await exited(o.child);
    await exited(go);
    t.is(go.exitCode, 0, 'and gets it after ours');
    t.true(oursHolds);
  },
);
