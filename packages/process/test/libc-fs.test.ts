// The run's file calls through libc (netlink/libc-fs.ts, loopback's) against node:fs, both in Bun,
// on the same files: every call's result, or its error's code, errno, syscall, path and message,
// must be the same — files and directories, a missing path, a namespace file (nsfs), a pipe read to
// its end, a non-blocking pipe that is full, a file written and read back.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const bun = fileURLToPath(new URL('../../../../node_modules/.bin/bun', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'cts-libc-fs-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

const driver = join(dir, 'driver.mjs');
writeFileSync(
  driver,
  `import * as nodeFs from 'node:fs';
import { libcFs } from ${JSON.stringify(new URL('../src/netlink/libc-fs.js', import.meta.url).href)};
const [which, dir] = process.argv.slice(2);
const fs = which === 'libc' ? libcFs() : nodeFs;
if (!fs) throw new Error('no libc');
const outcome = (f) => {
  try { return { result: f() }; } catch (e) { return { error: { code: e.code, errno: e.errno, syscall: e.syscall, path: e.path, message: e.message } }; }
};
const stat = (p) => { const s = fs.statSync(p); return { dev: Number(s.dev), ino: Number(s.ino), file: s.isFile() }; };
const out = {};
out.statFile = outcome(() => stat(dir + '/a.txt'));
out.statDir = outcome(() => stat(dir));
out.statMissing = outcome(() => stat(dir + '/missing'));
out.statNs = outcome(() => stat('/proc/self/ns/net'));
out.statfsNs = outcome(() => Number(fs.statfsSync('/proc/self/ns/net').type));
out.statfsProc = outcome(() => Number(fs.statfsSync('/proc').type));
out.statfsMissing = outcome(() => fs.statfsSync(dir + '/missing'));
out.openMissing = outcome(() => fs.openSync(dir + '/missing', 'r'));
out.openDir = outcome(() => { const fd = fs.openSync(dir, 'r'); fs.closeSync(fd); return 'opened'; });
out.readFile = outcome(() => fs.readFileSync(dir + '/a.txt', 'utf8'));
out.readFileLatin1 = outcome(() => fs.readFileSync(dir + '/a.txt', 'latin1'));
out.readAscii = outcome(() => fs.readFileSync(dir + '/ascii.txt', 'utf8'));
out.readEmpty = outcome(() => fs.readFileSync(dir + '/empty.txt', 'utf8'));
out.readBom = outcome(() => fs.readFileSync(dir + '/bom.txt', 'utf8'));
out.readInvalid = outcome(() => fs.readFileSync(dir + '/invalid.txt', 'utf8'));
out.readInvalidLatin1 = outcome(() => fs.readFileSync(dir + '/invalid.txt', 'latin1'));
out.readFileDir = outcome(() => fs.readFileSync(dir, 'utf8'));
out.readFileMissing = outcome(() => fs.readFileSync(dir + '/missing', 'utf8'));
out.stdin = outcome(() => fs.readFileSync(0, 'utf8'));
out.writeFile = outcome(() => { fs.writeFileSync(dir + '/w-' + which, 'written\\n'); return nodeFs.readFileSync(dir + '/w-' + which, 'utf8'); });
out.writeFileNoDir = outcome(() => fs.writeFileSync(dir + '/missing/x', 'x'));
out.statNoEntry = outcome(() => fs.statSync(dir + '/missing', { throwIfNoEntry: false }) ?? 'none');
out.statNotDir = outcome(() => fs.statSync(dir + '/a.txt/x', { throwIfNoEntry: false }) ?? 'none');
out.statNoEntryFile = outcome(() => fs.statSync(dir + '/a.txt', { throwIfNoEntry: false }).isFile());
out.statNoEntryStillThrows = outcome(() => fs.statSync(dir + '/locked/x', { throwIfNoEntry: false }) ?? 'none');
out.readlink = outcome(() => fs.readlinkSync(dir + '/link'));
out.readlinkChain = outcome(() => fs.readlinkSync(dir + '/link2'));
out.readlinkFile = outcome(() => fs.readlinkSync(dir + '/a.txt'));
out.readlinkMissing = outcome(() => fs.readlinkSync(dir + '/missing'));
out.readlinkOpened = outcome(() => { const fd = fs.openSync(dir + '/link2', 'r'); try { return fs.readlinkSync('/proc/self/fd/' + fd); } finally { fs.closeSync(fd); } });
out.readSync = outcome(() => { const fd = fs.openSync(dir + '/a.txt', 'r'); const b = new Uint8Array(4); const n = fs.readSync(fd, b); fs.closeSync(fd); return [n, [...b]]; });
// a pipe made non-blocking and filled: the write that does not fit fails with EAGAIN
out.fullPipe = outcome(fill);
function fill() {
  const fd = 3;
  const big = new Uint8Array(1 << 20);
  let total = 0;
  for (;;) total += fs.writeSync(fd, big, 0, big.length);
}
process.stdout.write(JSON.stringify(out));
`,
);
writeFileSync(join(dir, 'a.txt'), 'héllo\nwörld\n');
// every ASCII byte, across the 8 KiB slices libc-fs decodes in
const ASCII = Array.from({ length: 20_000 }, (_, i) => String.fromCharCode(i % 128)).join('');
writeFileSync(join(dir, 'ascii.txt'), ASCII);
writeFileSync(join(dir, 'empty.txt'), '');
writeFileSync(join(dir, 'bom.txt'), '\ufeff{"a":1}');
writeFileSync(join(dir, 'invalid.txt'), Uint8Array.of(0x7b, 0xff, 0xc3, 0x28, 0x80, 0x7d));
symlinkSync('a.txt', join(dir, 'link'));
symlinkSync('link', join(dir, 'link2'));
// a directory nobody may search: stat below it is EACCES for a non-root user; as root it is ENOENT
mkdirSync(join(dir, 'locked'), { mode: 0 });

const STDIN = `{"cniVersion":"1.0.0","name":"ü"}${'x'.repeat(100_000)}`;

// Runs the driver with `which` file calls; stdin: a pipe carrying `input`; fd 3: a non-blocking pipe nobody reads.
function outcomes(which: 'libc' | 'node') {
  const script = `exec 3> >(exec sleep 5 > /dev/null 2>&1) ; python3 -c 'import fcntl,os; fl=fcntl.fcntl(3,fcntl.F_GETFL); fcntl.fcntl(3,fcntl.F_SETFL,fl|os.O_NONBLOCK)' ; exec "$@"`;
  const r = spawnSync('bash', ['-c', script, 'bash', bun, driver, which, dir], {
    input: STDIN,
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  if (r.status !== 0) throw new Error(`driver failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, { result?: unknown; error?: { code: string; message: string } }>;
}

test('libc and node:fs make the same file calls, with the same results and errors', (t) => {
  const libc = outcomes('libc');
  const node = outcomes('node');
  t.deepEqual(libc, node);
  // and they are what they should be
  t.deepEqual(libc.statFile!.result, { ...(libc.statFile!.result as object), file: true });
  t.is((libc.statDir!.result as { file: boolean }).file, false);
  t.is(libc.statMissing!.error!.code, 'ENOENT');
  t.is(libc.statfsNs!.result, 0x6e736673, 'nsfs');
  t.is(libc.openMissing!.error!.message, `ENOENT: no such file or directory, open '${dir}/missing'`);
  t.is(libc.readFile!.result, 'héllo\nwörld\n');
  t.is(libc.readAscii!.result, ASCII);
  t.is(libc.readEmpty!.result, '');
  t.is(libc.readBom!.result, '\ufeff{"a":1}', 'the BOM kept, as Buffer keeps it');
  t.is(libc.readInvalid!.result, '{\ufffd\ufffd(\ufffd}');
  t.is(libc.readFileDir!.error!.code, 'EISDIR');
  t.is(libc.stdin!.result, STDIN, 'stdin whole, read in several chunks, decoded as UTF-8');
  t.is(libc.writeFile!.result, 'written\n');
  t.is(libc.fullPipe!.error!.code, 'EAGAIN');
  t.is(libc.statNoEntry!.result, 'none');
  t.is(libc.statNotDir!.error!.code, 'ENOTDIR', "Bun's node:fs throws for it");
  t.is(libc.statNoEntryFile!.result, true);
  t.is(libc.readlink!.result, 'a.txt');
  t.is(libc.readlinkChain!.result, 'link', 'one link read, not followed');
  t.is(libc.readlinkFile!.error!.message, `EINVAL: invalid argument, readlink '${dir}/a.txt'`);
  t.is(libc.readlinkMissing!.error!.code, 'ENOENT');
  t.is(libc.readlinkOpened!.result, `${dir}/a.txt`, 'the opened file by its kernel name: every link followed');
});
