// ffi.ts in Bun: the compiled plugins' Bun has the native dlopen (`Bun.FFI`), so a run does not
// load the `bun:ffi` module; and the functions it binds behave as those bound through that module
// — int32 arguments and results, errno, pointers as typed arrays and as addresses at an offset.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const bun = fileURLToPath(new URL('../../../../node_modules/.bin/bun', import.meta.url));
const bunTest = existsSync(bun) ? test : test.skip;
const dir = mkdtempSync(join(tmpdir(), 'cts-ffi-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

const driver = join(dir, 'driver.mjs');
writeFileSync(
  driver,
  `import { bindLibc, bindWith, nativeFfi } from ${JSON.stringify(new URL('../src/ffi.js', import.meta.url).href)};
const symbols = {
  getpid: { args: [], returns: 'i32' },
  write: { args: ['i32', 'ptr', 'u64_fast'], returns: 'i32' },
  close: { args: ['i32'], returns: 'i32' },
  __errno_location: { args: [], returns: 'ptr' },
  stat: { args: ['ptr', 'ptr'], returns: 'i32' },
};
const use = (lib) => {
  const s = lib.symbols;
  const text = new TextEncoder().encode('0123456789');
  const st = new Uint8Array(256);
  const path = Buffer.from('/proc/self/ns/net\\0');
  return {
    pid: s.getpid() === process.pid,
    // the whole buffer, then from an offset through its address
    whole: s.write(3, text, text.length),
    tail: s.write(3, lib.ptrOf(text, 6), 4),
    badClose: s.close(-1 | 0),
    errno: lib.readI32(s.__errno_location()),
    stat: s.stat(path, st),
    ino: new DataView(st.buffer).getUint32(8, true) !== 0,
  };
};
const which = process.argv[2];
const lib = which === 'native' ? bindLibc(['no-such-lib.so.9', 'libc.so.6'], symbols) : bindWith(require('bun:ffi'), ['libc.so.6'], symbols);
process.stdout.write(JSON.stringify({ native: !!nativeFfi(), missing: bindLibc(['no-such-lib.so.9'], symbols), ...use(lib) }));
`,
);

function run(which: string) {
  const r = spawnSync(bun, [driver, which], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
  if (r.status !== 0) throw new Error(`bun ${which}: ${r.stderr}`);
  return { out: JSON.parse(r.stdout) as Record<string, unknown>, written: String(r.output[3]) };
}

bunTest('the Bun the plugins are compiled with binds through its native dlopen', (t) => {
  const { out } = run('native');
  t.true(out.native, 'Bun.FFI is missing: every plugin run would load the bun:ffi module (docs/performance.md)');
  t.is(out.missing, null);
});

bunTest('functions bound natively behave as through bun:ffi', (t) => {
  const native = run('native');
  const module = run('module');
  t.deepEqual(native.out, module.out);
  t.like(native.out, { pid: true, whole: 10, tail: 4, badClose: -1, errno: 9, stat: 0, ino: true });
  t.is(native.written, '01234567896789');
  t.is(module.written, native.written);
});
