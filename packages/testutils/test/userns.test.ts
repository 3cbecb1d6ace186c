// runInUserNetns and userNetnsTest: the driver runs as root of a network namespace of its own,
// its JSON comes back, every failure (exit, throw, timeout, no JSON) fails with the driver's
// stderr, the temp dir goes in every case, and a failing probe skips only when we are not root.
import anyTest from 'ava';
import { existsSync, readlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import { isRoot, runInUserNetns, userNetnsTest } from '../src/index.js';

const test = userNetnsTest(anyTest, import.meta.url);

const whereami = `import { readlinkSync } from 'node:fs';
const input = JSON.parse(process.argv[2]);
process.stderr.write('a warning\\n');
process.stdout.write(JSON.stringify({ input, me: process.argv[1], uid: process.getuid(), net: readlinkSync('/proc/self/ns/net'), env: process.env.CTS_X ?? null, path: process.env.PATH }));
`;

test('the driver runs as root of a fresh network namespace, gets its input and env, and its JSON comes back', (t) => {
  const r = runInUserNetns<{ input: unknown; me: string; uid: number; net: string; env: string | null; path: string }>(
    t,
    whereami,
    { input: { a: [1, 'b'] }, env: { CTS_X: 'y' } },
  );
  t.deepEqual(r.input, { a: [1, 'b'] });
  t.is(r.uid, 0);
  t.not(r.net, readlinkSync('/proc/self/ns/net'), 'another network namespace than ours');
  t.is(r.env, 'y');
  t.false(r.path.includes('node_modules'), 'the system PATH, not npx’s');
  t.false(existsSync(dirname(r.me)), 'the temp dir is gone');
});

// the driver names its own path on stderr first, so that we can see its temp dir went too
const failing: Array<[string, string, RegExp]> = [
  ['a throw', `throw new Error('boom-' + 'xyz');`, /exited with 1[\s\S]*boom-xyz/],
  ['an exit code', `process.exit(3);`, /exited with 3/],
  ['a kill', `process.kill(process.pid, 'SIGKILL');`, /exited with|killed by SIGKILL/],
  ['a timeout', `setTimeout(() => {}, 600_000);`, /timed out after 3000 ms/],
  ['no JSON', `process.stdout.write('not json');`, /printed no JSON on stdout:\nnot json/],
];
for (const [name, body, want] of failing)
  test(`fails with the driver's stderr on ${name}, and removes the temp dir`, (t) => {
    const src = `process.stderr.write('driver at ' + process.argv[1] + '\\n');\n${body}\n`;
    // only the timeout case has a short limit: bun alone may take a second to start on a loaded machine
    const e = t.throws(() => runInUserNetns(t, src, name === 'a timeout' ? { timeoutMs: 3000 } : {}));
    t.regex(e?.message ?? '', want);
    const at = /driver at (\S+)/.exec(e?.message ?? '')?.[1];
    if (name !== 'a timeout' && name !== 'a kill') t.truthy(at, 'the stderr is in the message');
    if (at) t.false(existsSync(dirname(at)), 'the temp dir is gone');
  });

anyTest('a probe that fails skips the file only when we are not root', (t) => {
  const gated = userNetnsTest(anyTest, 'probe-test', ['false']);
  if (isRoot()) t.is(gated, anyTest, 'as root: the real test, which fails where unshare does');
  else t.not(gated, anyTest, 'not root: a skipping stand-in');
});

test('a probe that runs gives the real test', (t) => {
  t.is(userNetnsTest(anyTest, 'probe-test', ['true']), anyTest);
});
