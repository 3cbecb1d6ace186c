// A named netns of the kit (Netns.create) is recorded in the run's scratch parent until destroy(),
// and removing an ended run's parent (tools/test-runner/run-dir.mjs, at the next start) deletes
// the namespaces its killed workers left; a live run's stay. Root: real namespaces.
import anyTest from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Netns, SYSTEM_PATH, rootTest, uniquePrefix } from '../../src/index.js';

const test = rootTest(anyTest, import.meta.url);
const runDir = new URL('../../../../../tools/test-runner/run-dir.mjs', import.meta.url).href;
const listed = () => execFileSync('ip', ['netns', 'list'], { encoding: 'utf8', env: { PATH: SYSTEM_PATH } });
const has = (name: string) =>
  listed()
    .split('\n')
    .some((l) => l.split(' ')[0] === name);

test("a killed run's undestroyed netns goes with its parent; destroyed ones are unrecorded; a live run's stay", async (t) => {
  const { removeEndedRuns, startTime } = await import(runDir);
  const parent = mkdtempSync(join(tmpdir(), 'cts-netns-records-'));
  const ended = spawnSync('true');
  t.is(ended.status, 0);
  // a pid that is not running now: the one of `true`, which has ended (start time 1: never ours)
  const dead = join(parent, `cts-testrun-${ended.pid}-1-aB3dE9`);
  const live = join(parent, `cts-testrun-${process.pid}-${startTime(process.pid)}-aB3dE9`);
  const names = {
    destroyed: `${uniquePrefix('q5')}-a`,
    left: `${uniquePrefix('q5')}-b`,
    kept: `${uniquePrefix('q5')}-c`,
  };
  const made: Netns[] = [];
  const before = process.env.CTS_RUN_DIR;
  t.teardown(async () => {
    for (const ns of made) await ns.destroy();
    rmSync(parent, { recursive: true, force: true });
  });
  try {
    mkdirSync(dead);
    mkdirSync(live);
    process.env.CTS_RUN_DIR = dead;
    for (const name of [names.destroyed, names.left]) made.push(await Netns.create(name));
    t.true(existsSync(join(dead, 'netns', names.left)));
    await made[0]!.destroy();
    t.false(existsSync(join(dead, 'netns', names.destroyed)), 'destroy() removes the record');
    process.env.CTS_RUN_DIR = live;
    made.push(await Netns.create(names.kept));
  } finally {
    if (before === undefined) delete process.env.CTS_RUN_DIR;
    else process.env.CTS_RUN_DIR = before;
  }
  t.true(has(names.left) && has(names.kept));
  t.deepEqual(removeEndedRuns(parent), [`cts-testrun-${ended.pid}-1-aB3dE9`]);
  t.false(has(names.left), "the ended run's netns is gone");
  t.true(has(names.kept), "the live run's netns is still there");
  t.false(existsSync(dead));
  t.true(existsSync(join(live, 'netns', names.kept)));
});
