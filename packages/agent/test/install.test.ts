import { linkSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { installBinaries, installContent, listBinaries, removeBinaries } from '../src/install.js';

function dirs() {
  const top = mkdtempSync(join(tmpdir(), 'cts-agent-install-'));
  return { top, src: join(top, 'src'), dst: join(top, 'dst') };
}

// a source dir like dist/bin: one multi-call executable with hard links, and another file
function multicall(src: string, version = 'v1') {
  mkdirSync(src, { recursive: true });
  for (const n of ['cni-ts', 'bridge', 'loopback', 'other']) rmSync(join(src, n), { force: true });
  writeFileSync(join(src, 'cni-ts'), `#!/bin/sh\necho ${version}\n`, { mode: 0o755 });
  for (const n of ['bridge', 'loopback']) linkSync(join(src, 'cni-ts'), join(src, n));
  writeFileSync(join(src, 'other'), '#!/bin/sh\necho other\n', { mode: 0o755 });
}

test('installContent writes by rename, then leaves an identical file alone', (t) => {
  const { top } = dirs();
  const path = join(top, 'net.d', '10-x.conflist');
  t.is(installContent(path, '{"a":1}\n'), 'written');
  const first = statSync(path);
  t.is(installContent(path, '{"a":1}\n'), 'unchanged');
  t.is(statSync(path).ino, first.ino, 'not rewritten');
  t.is(installContent(path, '{"a":2}\n'), 'written');
  t.not(statSync(path).ino, first.ino, 'replaced by a new inode (rename), never written in place');
  t.is(readFileSync(path, 'utf8'), '{"a":2}\n');
  t.deepEqual(readdirSync(join(top, 'net.d')), ['10-x.conflist'], 'no temp file left');
  t.is(statSync(path).mode & 0o777, 0o644);
  rmSync(top, { recursive: true });
});

test('hard links are grouped: the first name is copied, the others linked to it', (t) => {
  const { top, src } = dirs();
  multicall(src);
  t.deepEqual(listBinaries(src), [
    { name: 'bridge' },
    { name: 'cni-ts', linkOf: 'bridge' },
    { name: 'loopback', linkOf: 'bridge' },
    { name: 'other' },
  ]);
  t.deepEqual(listBinaries(src, ['loopback', 'cni-ts']), [{ name: 'cni-ts' }, { name: 'loopback', linkOf: 'cni-ts' }]);
  t.throws(() => listBinaries(src, ['portmap']), { message: /portmap is not in/ });
  rmSync(top, { recursive: true });
});

test('installBinaries keeps the links on the host, writes nothing the second time, replaces on change', (t) => {
  const { top, src, dst } = dirs();
  multicall(src);
  t.deepEqual(installBinaries(src, dst), ['bridge', 'cni-ts', 'loopback', 'other']);
  const ino = statSync(join(dst, 'bridge')).ino;
  t.is(statSync(join(dst, 'cni-ts')).ino, ino);
  t.is(statSync(join(dst, 'loopback')).ino, ino);
  t.is(statSync(join(dst, 'bridge')).mode & 0o777, 0o755);
  t.deepEqual(installBinaries(src, dst), [], 'restart: nothing written');
  t.is(statSync(join(dst, 'bridge')).ino, ino);

  // a node that had the Go plugins: a separate file named loopback is replaced by our link
  rmSync(join(dst, 'loopback'));
  writeFileSync(join(dst, 'loopback'), 'go plugin', { mode: 0o755 });
  t.deepEqual(installBinaries(src, dst), ['loopback']);
  t.is(statSync(join(dst, 'loopback')).ino, ino);

  multicall(src, 'v2');
  t.deepEqual(installBinaries(src, dst), ['bridge', 'cni-ts', 'loopback']);
  t.is(readFileSync(join(dst, 'cni-ts'), 'utf8'), '#!/bin/sh\necho v2\n');
  t.false(
    readdirSync(dst).some((n) => n.startsWith('.')),
    'no temp file left',
  );
  rmSync(top, { recursive: true });
});

test('removeBinaries removes only what is still ours', (t) => {
  const { top, src, dst } = dirs();
  multicall(src);
  installBinaries(src, dst);
  rmSync(join(dst, 'other'));
  writeFileSync(join(dst, 'other'), 'someone else’s', { mode: 0o755 });
  writeFileSync(join(dst, 'portmap'), 'go portmap', { mode: 0o755 });
  t.deepEqual(removeBinaries(src, dst), ['bridge', 'cni-ts', 'loopback']);
  t.deepEqual(readdirSync(dst).sort(), ['other', 'portmap']);
  rmSync(top, { recursive: true });
});
