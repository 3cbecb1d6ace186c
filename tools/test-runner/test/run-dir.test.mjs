// The per-run scratch parent (tools/test-runner/run-dir.mjs): a run's parent goes when the run
// ends, also with what a SIGKILLed worker left in it; a killed run's parent is removed by the next
// start; and nothing is removed that is not an ended run's parent of our pattern (a live run's,
// a pid now another process's is ended, other names in the temp dir stay).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { RUN_DIR, hasEnded, removeEndedRuns, startTime } from '../run-dir.mjs';

const root = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
const runDirModule = new URL('../run-dir.mjs', import.meta.url).href;
const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const scratch = mkdtempSync(join(tmpdir(), 'cts-rundir-test-'));
test.after.always(() => rmSync(scratch, { recursive: true, force: true }));
let n = 0;
const parentDir = () => {
  const d = join(scratch, `p${++n}`);
  mkdirSync(d);
  return d;
};

/** A pid and start time of a process that has ended (a child we ran to its end). */
async function endedProcess() {
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  await new Promise((r) => child.once('spawn', r));
  const start = startTime(child.pid);
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  return { pid: child.pid, start };
}

test('startTime reads /proc/<pid>/stat field 22; an ended process has none', async (t) => {
  const own = startTime(process.pid);
  t.regex(own, /^\d+$/);
  // the same figure ps derives its start from (etimes is seconds since it, so only compare as a number)
  t.true(Number(own) > 0);
  t.false(hasEnded(process.pid, own));
  t.true(hasEnded(process.pid, String(Number(own) + 1)), 'our pid with another start time: a reused pid');
  const ended = await endedProcess();
  t.regex(ended.start, /^\d+$/);
  t.is(startTime(ended.pid), undefined);
  t.true(hasEnded(ended.pid, ended.start));
});

test('removeEndedRuns removes ended runs of our pattern, with their content, and nothing else', async (t) => {
  const parent = parentDir();
  const ended = await endedProcess();
  const own = startTime(process.pid);
  const names = {
    ended: `cts-testrun-${ended.pid}-${ended.start}-aB3dE9`,
    reused: `cts-testrun-${process.pid}-${Number(own) + 1}-Zz0000`,
    live: `cts-testrun-${process.pid}-${own}-Qw12er`,
    noSuffix: `cts-testrun-${ended.pid}-${ended.start}`,
    otherTool: `cts-run-${ended.pid}-${ended.start}-aB3dE9`,
    notAPid: 'cts-testrun-x-1-aB3dE9',
  };
  for (const name of Object.values(names)) mkdirSync(join(parent, name, 'cts-hl-unit-abc123'), { recursive: true });
  writeFileSync(join(parent, names.ended, 'cts-hl-unit-abc123', 'file'), 'left by a killed worker');
  const removed = removeEndedRuns(parent, { removeNetns: () => t.fail('no netns recorded') });
  t.deepEqual(removed.sort(), [names.ended, names.reused].sort());
  t.deepEqual(readdirSync(parent).sort(), [names.live, names.noSuffix, names.otherTool, names.notAPid].sort());
  t.true(RUN_DIR.test(names.live));
});

test("an ended run's recorded netns are removed (valid names only), a live run's are not", async (t) => {
  const parent = parentDir();
  const ended = await endedProcess();
  const dead = join(parent, `cts-testrun-${ended.pid}-${ended.start}-aB3dE9`);
  const live = join(parent, `cts-testrun-${process.pid}-${startTime(process.pid)}-aB3dE9`);
  for (const [dir, names] of [
    [dead, ['ctlo1a2b-node', 'ctlo1a2b-pod', '.hidden']],
    [live, ['ctlive-node']],
  ]) {
    mkdirSync(join(dir, 'netns'), { recursive: true });
    for (const name of names) writeFileSync(join(dir, 'netns', name), '');
  }
  const deleted = [];
  removeEndedRuns(parent, { removeNetns: (name) => deleted.push(name) });
  t.deepEqual(deleted.sort(), ['ctlo1a2b-node', 'ctlo1a2b-pod']);
  t.false(existsSync(dead));
  t.true(existsSync(live));
});

test('a killed run leaves its parent; the next start removes it and makes its own', async (t) => {
  const parent = parentDir();
  const child = spawn(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `import { startRun } from ${JSON.stringify(runDirModule)};
console.log(startRun(${JSON.stringify(parent)})); setInterval(() => {}, 1000);`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const dir = await new Promise((r) => child.stdout.once('data', (d) => r(String(d).trim())));
  t.regex(dir.slice(parent.length + 1), RUN_DIR);
  t.true(dir.startsWith(`${parent}/cts-testrun-${child.pid}-${startTime(child.pid)}-`));
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  t.true(existsSync(dir), 'SIGKILL runs no exit handler');
  const next = spawnSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `import { startRun } from ${JSON.stringify(runDirModule)};
console.log(startRun(${JSON.stringify(parent)}));`,
    ],
    { encoding: 'utf8' },
  );
  t.is(next.status, 0, next.stderr);
  t.false(existsSync(dir), "the next start removed the killed run's parent");
  t.deepEqual(readdirSync(parent), [], 'and its own parent went at its exit');
});

test("through ava: a SIGKILLed worker's scratch dir goes with the run's parent", (t) => {
  const parent = parentDir();
  const project = mkdtempSync(join(scratch, 'proj-'));
  const report = join(project, 'report');
  const ava = join(root, 'node_modules/ava/entrypoints');
  writeFileSync(
    join(project, 'ava.config.mjs'),
    `import { runEnvironment, startRun } from ${JSON.stringify(runDirModule)};
export default { files: ['*.test.mjs'], workerThreads: false, environmentVariables: runEnvironment(startRun()) };\n`,
  );
  writeFileSync(
    join(project, 'killed.test.mjs'),
    `import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from ${JSON.stringify(`${ava}/main.mjs`)};
test('killed before its cleanup', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cts-killed-'));
  writeFileSync(${JSON.stringify(report)}, JSON.stringify({ dir, env: process.env.CTS_RUN_DIR }));
  process.kill(process.pid, 'SIGKILL');
});\n`,
  );
  const r = spawnSync(process.execPath, [join(ava, 'cli.mjs')], {
    cwd: project,
    encoding: 'utf8',
    env: { PATH: SYSTEM_PATH, TMPDIR: parent, HOME: project },
  });
  t.not(r.status, 0, 'the killed worker fails the run');
  const { dir, env } = JSON.parse(readFileSync(report, 'utf8'));
  t.regex(env.slice(parent.length + 1), RUN_DIR, "the worker's CTS_RUN_DIR is the run's parent");
  t.true(dir.startsWith(`${env}/cts-killed-`), `${dir} is inside the run's parent`);
  t.false(existsSync(dir));
  t.deepEqual(readdirSync(parent), [], `nothing left in the temp dir:\n${r.stdout}${r.stderr}`);
});
