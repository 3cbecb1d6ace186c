// The agent's warm-up on the real kernel: a copy of the built multi-call executable, dropped from
// the page cache and then started once (its pages read from disk by exec's faults, as on a node
// after a reboot), lies mostly in small folios; after warmFile it lies in large ones, which is
// what makes each later exec cheaper (docs/performance.md, "The executables' page cache").
// Folios are read from /proc/self/pagemap and /proc/kpageflags (PFNs need root) by a small
// Python probe that maps the file read-only and touches each page (already cached: touching maps
// the folios there, it does not choose them).
import { spawnSync } from 'node:child_process';
import { closeSync, copyFileSync, fsyncSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemExecutor } from '@cni-ts/process';
import { SYSTEM_PATH, binDir, repoRoot, rootTest } from '@cni-ts/testutils';
import anyTest, { type TestFn } from 'ava';
import { warmFile } from '../../src/warm.js';

const test = rootTest(anyTest as TestFn, import.meta.url);

const PROBE = `
import ctypes, os, struct, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
size = os.fstat(fd).st_size
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
a = libc.mmap(None, size, 1, 2, fd, 0)  # PROT_READ, MAP_PRIVATE
if a in (None, ctypes.c_void_p(-1).value): sys.exit('mmap failed')
PG = 4096
n = size // PG
view = (ctypes.c_char * size).from_address(a)
for i in range(n): view[i * PG]
pm = open('/proc/self/pagemap', 'rb'); kf = open('/proc/kpageflags', 'rb')
large = small = 0
for i in range(n):
    pm.seek((a // PG + i) * 8); e = struct.unpack('Q', pm.read(8))[0]
    if not (e >> 63) & 1: continue
    pfn = e & ((1 << 55) - 1)
    if pfn == 0: sys.exit('no PFNs in pagemap (not root?)')
    kf.seek(pfn * 8); f = struct.unpack('Q', kf.read(8))[0]
    if (f >> 15) & 3: large += 1  # KPF_COMPOUND_HEAD or KPF_COMPOUND_TAIL
    else: small += 1
print(large, small)
`;

/** The share of the file's pages that sit in small (order-0) folios. */
function smallShare(path: string): number {
  const r = spawnSync('python3', ['-c', PROBE, path], { encoding: 'utf8', env: { PATH: SYSTEM_PATH } });
  if (r.status !== 0) throw new Error(`the folio probe failed: ${r.stderr || r.error}`);
  const [large, small] = r.stdout.trim().split(' ').map(Number) as [number, number];
  return small / (large + small);
}

function version(path: string): string {
  const r = spawnSync(path, [], { input: '', encoding: 'utf8', env: { CNI_COMMAND: 'VERSION', PATH: SYSTEM_PATH } });
  if (r.status !== 0) throw new Error(`VERSION of ${path} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

// a directory on a disk filesystem (the page cache of tmpfs is not dropped): the repo's, when the
// system's temp dir is tmpfs
function diskDir(): string {
  const fs = spawnSync('stat', ['-f', '-c', '%T', tmpdir()], { encoding: 'utf8' }).stdout.trim();
  return mkdtempSync(join(fs === 'tmpfs' ? repoRoot : tmpdir(), '.cts-warm-'));
}

test('an executable read back from disk by exec lies in small folios; after warmFile in large ones', (t) => {
  const dir = diskDir();
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const copy = join(dir, 'loopback');
  copyFileSync(join(binDir, 'cni-ts'), copy);
  const fd = openSync(copy, 'r');
  fsyncSync(fd);
  closeSync(fd);
  spawnSync('chmod', ['0755', copy]);
  const drop = spawnSync('dd', [`if=${copy}`, 'iflag=nocache', 'count=0', 'status=none'], { encoding: 'utf8' });
  t.is(drop.status, 0, drop.stderr);

  const out = version(copy);
  const cold = smallShare(copy);
  t.log(`after an exec from disk: ${(cold * 100).toFixed(1)} % of the pages in small folios`);
  t.true(cold > 0.3, `exec's faults left only ${(cold * 100).toFixed(1)} % small: nothing here for a warm-up to do`);

  const warmed = warmFile(systemExecutor, copy);
  t.is(warmed.bytes, Number(spawnSync('stat', ['-c', '%s', copy], { encoding: 'utf8' }).stdout.trim()));
  const warm = smallShare(copy);
  t.log(`after warmFile: ${(warm * 100).toFixed(1)} % small`);
  t.true(warm < 0.1, `warmFile left ${(warm * 100).toFixed(1)} % of the pages in small folios`);
  t.is(version(copy), out, 'the warmed executable runs as before');
  t.true(smallShare(copy) < 0.1, 'and an exec of it keeps the large folios');
});
