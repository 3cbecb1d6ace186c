// The executor in Bun (Bun.spawnSync) against the same cases under Node (node:child_process):
// exit statuses, output, stdin, the environment, a missing tool, a timeout and a signal must come
// out the same way — the same RunResult or the same ProcessError kind and message.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const bun = fileURLToPath(new URL('../../../../node_modules/.bin/bun', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'cts-run-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

const CASES: Array<[string, string[], { input?: string; env?: Record<string, string>; timeoutMs?: number }]> = [
  ['sh', ['-c', 'echo out; echo err >&2; exit 3'], {}],
  ['wc', ['-c'], { input: `${'x'.repeat(200_000)}\n` }],
  ['sh', ['-c', 'echo early; exit 2'], { input: 'y'.repeat(1 << 20) }],
  ['sh', ['-c', 'echo "$CTS_X:$PATH"'], { env: { CTS_X: 'v', PATH: '/usr/bin:/bin' } }],
  ['sh', ['-c', 'echo "$CTS_LATE"'], {}],
  ['cts-no-such-tool', ['a'], {}],
  ['/nonexistent/cts-tool', [], {}],
  ['sleep', ['5'], { timeoutMs: 300 }],
  ['sh', ['-c', 'kill -TERM $$'], {}],
];

const cases = join(dir, 'cases.json');
writeFileSync(cases, JSON.stringify(CASES));
const driver = join(dir, 'driver.mjs');
writeFileSync(
  driver,
  `import { readFileSync } from 'node:fs';
import { systemExecutor } from ${JSON.stringify(new URL('../src/index.js', import.meta.url).href)};
const cases = JSON.parse(readFileSync(process.argv[2], 'utf8'));
// set after start: Node's spawnSync passes the environment as it is now, so must Bun's
process.env.CTS_LATE = 'late';
const outcome = (f) => { try { return { result: f() }; } catch (e) { return { error: { kind: e.kind, message: e.message } }; } };
const out = { run: [] };
for (const [file, args, opts] of cases) out.run.push(outcome(() => systemExecutor.run(file, args, opts)));
process.stdout.write(JSON.stringify(out));
`,
);

function outcomes(runtime: string) {
  const r = spawnSync(runtime, [driver, cases], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`driver failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout) as { run: unknown[] };
}

test('Bun.spawnSync and node:child_process give the same results and errors', (t) => {
  const inBun = outcomes(bun);
  const inNode = outcomes(process.execPath);
  t.deepEqual(inBun.run, inNode.run);
  // and they are what they should be
  const [status3, stdin, early, env, late, missing, missingPath, timeout, signal] = inBun.run as Array<{
    result?: { status: number; stdout: string; stderr: string };
    error?: { kind: string; message: string };
  }>;
  t.deepEqual(status3!.result, { status: 3, stdout: 'out\n', stderr: 'err\n' });
  t.is(stdin!.result!.stdout, '200001\n');
  t.deepEqual(early!.result, { status: 2, stdout: 'early\n', stderr: '' });
  t.is(env!.result!.stdout, 'v:/usr/bin:/bin\n');
  t.is(late!.result!.stdout, 'late\n');
  t.is(missing!.error!.kind, 'not-found');
  t.is(missingPath!.error!.kind, 'not-found');
  t.is(timeout!.error!.kind, 'timeout');
  t.regex(timeout!.error!.message, /sleep 5: did not finish within 0\.3 s and was killed/);
  t.deepEqual(signal!.error, { kind: 'failed', message: 'sh -c kill -TERM $$: killed by SIGTERM' });
});
