// ScratchNetns's holder ends with the process that started it, also when that process is
// SIGKILLed (a killed test worker runs no after.always hook and no stop()), so no scratch netns
// outlives its test run; stop() ends it too.
import anyTest from 'ava';
import { spawn } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';
import { ScratchNetns, userNetnsTest } from '../src/index.js';

const test = userNetnsTest(anyTest, import.meta.url);
const kit = new URL('../src/index.js', import.meta.url).href;

const alive = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(' ')[2] !== 'Z';
  } catch {
    return false;
  }
};
async function ends(pid: number, ms = 10_000): Promise<boolean> {
  for (const until = Date.now() + ms; Date.now() < until; ) {
    if (!alive(pid)) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return false;
}

test('the holder holds a netns of its own, and stop() ends it', async (t) => {
  const ns = await ScratchNetns.start();
  t.not(readlinkSync(`/proc/${ns.pid}/ns/net`), readlinkSync('/proc/self/ns/net'));
  const r = await ns.exec.run('ip', ['-o', 'link', 'show']);
  t.regex(String(r.stdout), /^1: lo: /, 'only lo in a fresh namespace');
  ns.stop();
  t.true(await ends(ns.pid));
});

test('the holder ends when the process that started it is SIGKILLed', async (t) => {
  const child = spawn(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `import { ScratchNetns } from ${JSON.stringify(kit)};
const ns = await ScratchNetns.start();
console.log(ns.pid);
setInterval(() => {}, 1000);`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const holder = Number(await new Promise((r) => child.stdout!.once('data', (d) => r(String(d).trim()))));
  t.true(alive(holder), 'the holder runs while its starter does');
  child.kill('SIGKILL');
  t.true(await ends(holder), `holder ${holder} ended with its starter`);
});
