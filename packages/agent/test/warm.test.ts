import { linkSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Executor, RunResult } from '@cni-ts/process';
import { systemExecutor } from '@cni-ts/process';
import test from 'ava';
import { warmExecutables, warmFile } from '../src/warm.js';

function recorder(result: Partial<RunResult> = {}) {
  const calls: Array<[string, readonly string[]]> = [];
  const exec = {
    run(file: string, args: readonly string[]): RunResult {
      calls.push([file, args]);
      return { status: 0, stdout: '', stderr: '', ...result };
    },
  } as Executor;
  return { exec, calls };
}

function dir() {
  const d = mkdtempSync(join(tmpdir(), 'cts-agent-warm-'));
  writeFileSync(join(d, 'cni-ts'), Buffer.alloc(3 * 1024 * 1024 + 17, 7), { mode: 0o755 });
  for (const n of ['bridge', 'loopback']) linkSync(join(d, 'cni-ts'), join(d, n));
  writeFileSync(join(d, 'other'), 'abc', { mode: 0o755 });
  return d;
}

test('each inode is dropped and read back once, links and missing files skipped', (t) => {
  const d = dir();
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  const { exec, calls } = recorder();
  const paths = ['bridge', 'missing', 'loopback', 'other', 'cni-ts'].map((n) => join(d, n));
  const warmed = warmExecutables(exec, paths);
  t.deepEqual(warmed, [
    { path: join(d, 'bridge'), bytes: 3 * 1024 * 1024 + 17 },
    { path: join(d, 'other'), bytes: 3 },
  ]);
  t.deepEqual(calls, [
    ['dd', [`if=${join(d, 'bridge')}`, 'iflag=nocache', 'count=0', 'status=none']],
    ['dd', [`if=${join(d, 'other')}`, 'iflag=nocache', 'count=0', 'status=none']],
  ]);
});

test('a failed drop is an error naming the file and dd’s message; nothing is read', (t) => {
  const d = dir();
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  const { exec } = recorder({ status: 1, stderr: "dd: failed to discard cache for: 'x': Invalid argument\n" });
  t.throws(() => warmFile(exec, join(d, 'other')), {
    message: `dropping the page cache of ${join(d, 'other')}: dd: failed to discard cache for: 'x': Invalid argument`,
  });
});

test('with the real dd: the drop succeeds on a regular file and the whole file is read', (t) => {
  const d = dir();
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  t.deepEqual(warmFile(systemExecutor, join(d, 'cni-ts')), { path: join(d, 'cni-ts'), bytes: 3 * 1024 * 1024 + 17 });
  t.throws(() => warmFile(systemExecutor, join(d, 'nope')), { message: /dropping the page cache of .*nope: dd: / });
});
