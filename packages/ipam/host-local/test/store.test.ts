// The disk store in a temporary directory: the exact bytes and modes upstream writes, and the
// refusals that keep writes inside the store.
import test from 'ava';
import {
  chmodSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lockFile } from '@cni-ts/process';
import { CniError } from '@cni-ts/types';
import { DiskStore, TEMP_PREFIX, storeDir } from '../src/index.js';
import { heldBy } from '../src/owners.js';

const root = mkdtempSync(join(tmpdir(), 'cts-hl-store-'));
test.after.always(() => rmSync(root, { recursive: true, force: true }));

let n = 0;
function fresh(): { dataDir: string; dir: string; store: DiskStore } {
  const dataDir = join(root, `d${++n}`);
  const dir = storeDir(dataDir, 'net1', true)!;
  return { dataDir, dir, store: new DiskStore(dir, 'net1') };
}
const mode = (p: string) => lstatSync(p).mode & 0o777;
const umasked = (m: number) => m & ~process.umask();

test('reserve writes "<id>\\r\\n<ifname>" without a newline, 0600, and last_reserved_ip.<N>, leaving no temporary file', (t) => {
  const { dir, store } = fresh();
  t.true(store.reserve('10.1.0.5', '  ctr1 ', 'eth0', '0'));
  t.true(store.reserve('2001:db8::5', 'ctr1', 'eth0', '1'));
  t.deepEqual(readFileSync(join(dir, '10.1.0.5')), Buffer.from('ctr1\r\neth0'));
  t.is(readFileSync(join(dir, 'last_reserved_ip.0'), 'utf8'), '10.1.0.5');
  t.is(readFileSync(join(dir, 'last_reserved_ip.1'), 'utf8'), '2001:db8::5');
  for (const f of ['10.1.0.5', '2001:db8::5', 'last_reserved_ip.0', 'last_reserved_ip.1'])
    t.is(mode(join(dir, f)), umasked(0o600), f);
  t.is(mode(dir), umasked(0o755));
  t.deepEqual(readdirSync(dir).sort(), ['10.1.0.5', '2001:db8::5', 'last_reserved_ip.0', 'last_reserved_ip.1']);
});

test('reserving a taken address fails and leaves the holder and the cursor alone', (t) => {
  const { dir, store } = fresh();
  t.true(store.reserve('10.1.0.5', 'a', 'eth0', '0'));
  t.true(store.reserve('10.1.0.6', 'b', 'eth0', '0'));
  t.false(store.reserve('10.1.0.5', 'c', 'eth0', '0'));
  t.is(readFileSync(join(dir, '10.1.0.5'), 'utf8'), 'a\r\neth0');
  t.is(store.lastReserved('0'), '10.1.0.6');
  t.false(readdirSync(dir).some((f) => f.startsWith(TEMP_PREFIX)));
});

test('a reservation whose cursor cannot be written is taken back: the failed reserve leaves no file', (t) => {
  const { dir, store } = fresh();
  mkdirSync(join(dir, 'last_reserved_ip.0', 'x'), { recursive: true }); // rename(2) cannot replace it
  const e = t.throws(() => store.reserve('10.1.0.5', 'a', 'eth0', '0'), { instanceOf: CniError });
  t.is(e?.code, 5);
  t.regex(e!.message, /last_reserved_ip\.0/);
  t.deepEqual(readdirSync(dir).sort(), ['last_reserved_ip.0'], 'neither the reservation nor a temporary file');
});

test('the cursor is rewritten in place: same inode, cut to a shorter address, a 0644 one made 0600', (t) => {
  const { dir, store } = fresh();
  const cursor = join(dir, 'last_reserved_ip.0');
  t.true(store.reserve('10.1.0.100', 'a', 'eth0', '0'));
  const ino = statSync(cursor).ino;
  t.true(store.reserve('10.1.0.99', 'b', 'eth0', '0'));
  t.is(readFileSync(cursor, 'utf8'), '10.1.0.99', 'the longer old text is cut off');
  t.true(store.reserve('2001:db8::1:0:0:100', 'c', 'eth0', '0'));
  t.is(readFileSync(cursor, 'utf8'), '2001:db8::1:0:0:100');
  chmodSync(cursor, 0o644); // as Debian's Go v1.1.1 writes it
  t.true(store.reserve('10.1.0.7', 'd', 'eth0', '0'));
  t.is(readFileSync(cursor, 'utf8'), '10.1.0.7');
  t.is(statSync(cursor).ino, ino, 'the same file, written over');
  t.is(mode(cursor), 0o600);
  t.false(readdirSync(dir).some((f) => f.startsWith(TEMP_PREFIX)));
});

test('a cursor killed mid-rewrite (empty, or the new address over the old tail) reads as none or as an address', (t) => {
  const { dir, store } = fresh();
  const cursor = join(dir, 'last_reserved_ip.0');
  for (const [i, [torn, read]] of (
    [
      ['', undefined],
      ['10.1.0.990', undefined], // "10.1.0.99" written over "10.1.0.100", killed before the cut
      ['10.1.1.100', '10.1.1.100'], // "10.1.1.10" over "10.1.2.100": an address, only where the search starts
    ] as const
  ).entries()) {
    writeFileSync(cursor, torn);
    t.is(store.lastReserved('0'), read, JSON.stringify(torn));
    t.true(store.reserve(`10.1.0.${i + 1}`, `c${i}`, 'eth0', '0'), 'and the next reserve writes it whole');
    t.is(readFileSync(cursor, 'utf8'), `10.1.0.${i + 1}`);
  }
});

test('a cursor that is a hard link to another file, or a FIFO, is replaced, never written through or waited on', (t) => {
  const { dir, store } = fresh();
  const other = join(root, `other${n}`);
  writeFileSync(other, '10.1.0.200');
  linkSync(other, join(dir, 'last_reserved_ip.0'));
  t.true(store.reserve('10.1.0.5', 'a', 'eth0', '0'));
  t.is(readFileSync(other, 'utf8'), '10.1.0.200', 'the other name keeps its text');
  t.is(readFileSync(join(dir, 'last_reserved_ip.0'), 'utf8'), '10.1.0.5');
  t.is(statSync(join(dir, 'last_reserved_ip.0')).nlink, 1);
  const fifo = join(dir, 'last_reserved_ip.1');
  t.is(spawnSync('mkfifo', [fifo]).status, 0);
  t.true(store.reserve('10.1.0.6', 'b', 'eth0', '1'), 'no reader, and reserve did not block');
  t.true(lstatSync(fifo).isFile());
  t.is(store.lastReserved('1'), '10.1.0.6');
});

test('reservations: owners trimmed, legacy files kept, lock/cursors/odd names/links/dirs ignored', (t) => {
  const { dir, store } = fresh();
  writeFileSync(join(dir, '10.1.0.2'), 'a\r\neth0');
  writeFileSync(join(dir, '10.1.0.3'), 'legacy-id\n');
  writeFileSync(join(dir, '2001:DB8::0:7'), 'b\r\neth1');
  writeFileSync(join(dir, 'last_reserved_ip.0'), '10.1.0.3');
  writeFileSync(join(dir, 'lock'), '');
  writeFileSync(join(dir, 'notes.txt'), 'a\r\neth0');
  writeFileSync(join(root, 'outside'), 'x\r\neth0');
  symlinkSync(join(root, 'outside'), join(dir, '10.1.0.9'));
  mkdirSync(join(dir, '10.1.0.10'));
  const got = store.reservations().sort((a, b) => a.ip.localeCompare(b.ip));
  t.deepEqual(got, [
    { ip: '10.1.0.2', file: '10.1.0.2', owner: 'a\r\neth0' },
    { ip: '10.1.0.3', file: '10.1.0.3', owner: 'legacy-id' },
    { ip: '2001:DB8::0:7', file: '2001:DB8::0:7', owner: 'b\r\neth1' },
  ]);
  // but every name that is an address blocks that address
  t.deepEqual([...store.reservedIPs()].sort(), ['10.1.0.10', '10.1.0.2', '10.1.0.3', '10.1.0.9', '2001:DB8::0:7']);
  t.false(store.reserve('10.1.0.9', 'c', 'eth0', '0'), 'a link named as an address is never written through');
  t.is(readFileSync(join(root, 'outside'), 'utf8'), 'x\r\neth0');
});

test('lastReserved ignores garbage and trims; a linked cursor is replaced, never written through', (t) => {
  const { dir, store } = fresh();
  t.is(store.lastReserved('0'), undefined);
  writeFileSync(join(dir, 'last_reserved_ip.0'), '10.1.0.4\n');
  t.is(store.lastReserved('0'), '10.1.0.4');
  writeFileSync(join(dir, 'last_reserved_ip.0'), 'not an ip');
  t.is(store.lastReserved('0'), undefined);
  const target = join(root, `target${n}`);
  writeFileSync(target, 'keep');
  symlinkSync(target, join(dir, 'last_reserved_ip.1'));
  t.true(store.reserve('10.1.0.7', 'a', 'eth0', '1'));
  t.is(readFileSync(target, 'utf8'), 'keep');
  t.false(lstatSync(join(dir, 'last_reserved_ip.1')).isSymbolicLink());
  t.is(store.lastReserved('1'), '10.1.0.7');
});

test('remove tolerates a missing file; removeStrays deletes only temporary files', (t) => {
  const { dir, store } = fresh();
  store.remove('10.1.0.99');
  writeFileSync(join(dir, `${TEMP_PREFIX}123.10.1.0.5`), 'a\r\neth0');
  writeFileSync(join(dir, '10.1.0.5'), 'a\r\neth0');
  t.deepEqual(store.removeStrays(), [`${TEMP_PREFIX}123.10.1.0.5`]);
  t.deepEqual(readdirSync(dir), ['10.1.0.5']);
});

test('lock creates the lock file 0750; a busy store is code 11 naming the network', async (t) => {
  const { dir, store } = fresh();
  const held = await store.lock(1000);
  t.is(mode(join(dir, 'lock')), umasked(0o750));
  const e = await t.throwsAsync(store.lock(150), { instanceOf: CniError });
  t.is(e?.code, 11);
  t.regex(e!.message, /^the IP store of network "net1" is busy: could not lock .*\/lock within 150 ms/);
  held.release();
  (await store.lock(150)).release();
  // the lock is interoperable with any other flock user on the same file
  const other = await lockFile(join(dir, 'lock'));
  await t.throwsAsync(store.lock(100), { message: /is busy/ });
  other.release();
});

test('storeDir: created 0755 on demand, absent otherwise', (t) => {
  const dataDir = join(root, 'sd1', 'deeper');
  t.is(storeDir(dataDir, 'n', false), undefined);
  t.false(existsSync(dataDir));
  t.is(storeDir(dataDir, 'n', true), `${dataDir}/n`);
  t.true(statSync(`${dataDir}/n`).isDirectory());
  t.is(storeDir(dataDir, 'n', false), `${dataDir}/n`);
  t.is(storeDir(dataDir, 'other', false), undefined);
});

const refusals: Array<[string, (base: string) => string, string, RegExp]> = [
  [
    'a dataDir that is a symbolic link',
    (b) => {
      mkdirSync(`${b}/real`);
      symlinkSync(`${b}/real`, `${b}/link`);
      return `${b}/link`;
    },
    'n',
    /^ipam\.dataDir ".*\/link" is a symbolic link$/,
  ],
  [
    'a network directory that is a symbolic link',
    (b) => {
      mkdirSync(`${b}/elsewhere`);
      mkdirSync(`${b}/dd`);
      symlinkSync(`${b}/elsewhere`, `${b}/dd/n`);
      return `${b}/dd`;
    },
    'n',
    /^the store of network "n", .*\/dd\/n, is a symbolic link$/,
  ],
  [
    'a network directory that is a file',
    (b) => {
      mkdirSync(`${b}/dd`);
      writeFileSync(`${b}/dd/n`, '');
      return `${b}/dd`;
    },
    'n',
    /^the store of network "n", .*\/dd\/n, is not a directory$/,
  ],
  [
    'a dataDir that is a file',
    (b) => {
      writeFileSync(`${b}/file`, '');
      return `${b}/file`;
    },
    'n',
    /^ipam\.dataDir ".*\/file" is not a directory$/,
  ],
  [
    'a dataDir below a file',
    (b) => {
      writeFileSync(`${b}/file`, '');
      return `${b}/file/sub`;
    },
    'n',
    /^ipam\.dataDir ".*\/file\/sub" cannot hold the store of network "n": a part of .* is not a directory$/,
  ],
  ['a network name ".."', (b) => b, '..', /^network name "\.\." cannot name a store directory$/],
  [
    'a network name with "/"',
    (b) => b,
    'a/../../etc',
    /^network name "a\/\.\.\/\.\.\/etc" cannot name a store directory$/,
  ],
];
let r = 0;
for (const [what, setup, name, msg] of refusals) {
  test(`storeDir refuses ${what} (code 7), creating nothing outside`, (t) => {
    const base = join(root, `ref${++r}`);
    mkdirSync(base);
    const dataDir = setup(base);
    const before = readdirSync(base, { recursive: true }).sort();
    for (const create of [true, false]) {
      if (!create && what === 'a dataDir below a file') {
        t.is(storeDir(dataDir, name, create), undefined, 'nothing there to read');
        continue;
      }
      const e = t.throws(() => storeDir(dataDir, name, create), { instanceOf: CniError });
      t.is(e?.code, 7);
      t.regex(e!.message, msg);
    }
    t.deepEqual(readdirSync(base, { recursive: true }).sort(), before);
  });
}

// held() compares files byte for byte where that provably equals trimming their decoded text
// (store.ts); every other file is decoded as reservations() does. Both must agree on every owner
// over files that end in whitespace of every kind, hold invalid UTF-8, a BOM, a prefix or an
// extension of an owner, and over owners that need the slow path (U+FFFD in the ifname, an
// ifname with trailing whitespace, an empty id).
test('held(id, ifname) is heldBy(reservations(), id, ifname) for every owner, byte-compared or decoded', (t) => {
  const { dir, store } = fresh();
  const contents: Array<string | Buffer> = [
    'a\r\neth0',
    'a',
    ' a\r\neth0',
    'a\r\neth0\n',
    'a\r\neth0 \t',
    '\u00a0a\r\neth0',
    'a\r\neth0\u2028',
    '\ufeffa\r\neth0',
    'a\u3000',
    'a\r\neth',
    'a\r\neth00',
    'A\r\neth0',
    'a\r\neth1',
    'b\r\neth0',
    'b',
    '',
    '\n',
    'a\r\nnet\u00e91',
    'a\r\nnet\ufffd',
    Buffer.concat([Buffer.from('a\r\nnet'), Buffer.from([0xff])]),
    Buffer.concat([Buffer.from('a\r\nnet'), Buffer.from([0xc3])]),
    Buffer.from([0xff]),
    'ctr-x.1_y\r\neth0',
    'ctr-x.1_y',
    'a\r\neth0\r\neth0',
    `${'a'.repeat(4200)}`,
  ];
  contents.push('\ud800\r\neth0', 'a\r\neth0\udfff'); // written as U+FFFD's bytes
  for (const [i, c] of contents.entries()) writeFileSync(join(dir, `10.1.0.${i + 2}`), c);
  writeFileSync(join(dir, 'notes'), 'a\r\neth0');
  mkdirSync(join(dir, '10.1.9.9'));
  const owners: Array<[string, string]> = [
    ['a', 'eth0'],
    [' a ', 'eth0'],
    ['a', 'eth1'],
    ['b', 'eth0'],
    ['A', 'eth0'],
    ['a', 'net\u00e91'],
    ['a', 'net\ufffd'],
    ['a', 'eth0 '],
    ['a', 'eth'],
    ['', 'eth0'],
    [' ', 'x'],
    ['ctr-x.1_y', 'eth0'],
    ['nobody', 'eth0'],
    ['a'.repeat(4200), 'eth0'],
    ['\ud800', 'eth0'], // a lone surrogate: not its own UTF-8 round trip, so every file is decoded
    ['a', 'eth0\udfff'],
  ];
  const byIp = (l: readonly { ip: string }[]) => [...l].sort((x, y) => x.ip.localeCompare(y.ip));
  for (const [id, ifname] of owners) {
    const want = byIp(heldBy(store.reservations(), id, ifname));
    t.deepEqual(byIp(store.held(id, ifname)), want, JSON.stringify([id, ifname]));
  }
  // the cases that must match at all (so the comparison above is not of empty lists only)
  t.is(store.held('a', 'eth0').length, 9);
  t.is(store.held('a', 'net\ufffd').length, 5, 'U+FFFD, the invalid bytes that decode to it, and the two legacy files');
  t.deepEqual(
    store.held('', 'eth0').map((r) => r.owner),
    ['', ''],
  );
});

test('after held(), reservedIPs() answers from the same listing; a reservation in between is seen', (t) => {
  const { dir, store } = fresh();
  writeFileSync(join(dir, '10.1.0.2'), 'a\r\neth0');
  store.held('b', 'eth0');
  t.true(store.reserve('10.1.0.3', 'b', 'eth0', '0'));
  t.deepEqual([...store.reservedIPs()].sort(), ['10.1.0.2', '10.1.0.3']);
  store.held('c', 'eth0');
  writeFileSync(join(dir, '10.1.0.4'), 'x\r\neth0'); // not ours: ADD holds the lock, so only a test does this
  t.deepEqual([...store.reservedIPs()].sort(), ['10.1.0.2', '10.1.0.3'], 'the listing held() read');
  t.deepEqual([...store.reservedIPs()].sort(), ['10.1.0.2', '10.1.0.3', '10.1.0.4'], 'used once, then listed again');
});

test('a temporary file left by a killed run with our pid is replaced, and the reservation made', (t) => {
  const { dir, store } = fresh();
  const tmp = join(dir, `${TEMP_PREFIX}${process.pid}.10.1.0.7`);
  writeFileSync(tmp, 'stale');
  t.true(store.reserve('10.1.0.7', 'a', 'eth0', '0'));
  t.is(readFileSync(join(dir, '10.1.0.7'), 'utf8'), 'a\r\neth0');
  t.false(existsSync(tmp));
  mkdirSync(tmp.replace('10.1.0.7', '10.1.0.8'));
  t.throws(() => store.reserve('10.1.0.8', 'a', 'eth1', '0'), {
    instanceOf: CniError,
    message: /failed to remove .*: EISDIR/,
  });
  t.false(existsSync(join(dir, '10.1.0.8')));
});

// A reserve's file-system calls, traced in a child process: the reservation's temporary name is
// created exclusively and removed once after the link, with no unlink of a missing name before it.
// (skipped where strace is missing or cannot trace, e.g. ptrace refused in a container)
const hasStrace = spawnSync('strace', ['-qq', '-o', '/dev/null', 'true']).status === 0;
(hasStrace ? test : test.skip)('reserve unlinks once (the temporary name, after the link), none failing', (t) => {
  const { dir } = fresh();
  const out = join(dir, '..', 'trace');
  const index = new URL('../src/index.js', import.meta.url).href;
  const script = `import { DiskStore } from ${JSON.stringify(index)};
    if (!new DiskStore(${JSON.stringify(dir)}, 'net1').reserve('10.1.0.5', 'a', 'eth0', '0')) process.exit(2);`;
  const r = spawnSync('strace', [
    '-f',
    '-qq',
    '-o',
    out,
    '-e',
    'trace=unlink,unlinkat,openat,link,linkat',
    process.execPath,
    '--input-type=module',
    '-e',
    script,
  ]);
  t.is(r.status, 0, String(r.stderr));
  const calls = readFileSync(out, 'utf8')
    .split('\n')
    .filter((l) => l.includes(dir));
  const unlinks = calls.filter((l) => /\bunlink(at)?\(/.test(l));
  t.is(unlinks.length, 1, calls.join('\n'));
  t.regex(unlinks[0]!, new RegExp(`${TEMP_PREFIX.replace(/\./g, '\\.')}\\d+\\.10\\.1\\.0\\.5"(, 0)?\\) += 0`));
  t.false(
    calls.some((l) => /= -1 ENOENT/.test(l)),
    calls.join('\n'),
  );
  t.is(readFileSync(join(dir, '10.1.0.5'), 'utf8'), 'a\r\neth0');
});
