import { chmodSync, closeSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { PluginError, RawExec, findInPath } from '../src/index.js';
import { tempDir } from './helpers.js';

const PATH = '/usr/sbin:/usr/bin:/sbin:/bin';

function script(dir: string, name: string, body: string): string {
  const file = join(dir, name);
  writeFileSync(file, `#!/bin/sh\n${body}\n`);
  chmodSync(file, 0o755);
  return file;
}

const env = { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c', CNI_NETNS: '', CNI_ARGS: '', CNI_IFNAME: 'eth0', CNI_PATH: '' };

test('the plugin gets the inherited environment with CNI_* on top, and the config on stdin', async (t) => {
  const dir = tempDir(t);
  const p = script(dir, 'echo', 'printf "%s|%s|%s|" "$CNI_COMMAND" "$KEEP" "$CNI_IFNAME"; cat');
  const exec = new RawExec({ env: { PATH, KEEP: 'kept', CNI_COMMAND: 'overridden' } });
  t.is(await exec.execPlugin(p, Buffer.from('{"a":1}'), env), 'ADD|kept|eth0|{"a":1}');
});

test("a failure is the plugin's JSON error from stdout; without stdout, its stderr; without either, the exit status", async (t) => {
  const dir = tempDir(t);
  const exec = new RawExec({ env: { PATH } });
  const run = (body: string) => exec.execPlugin(script(dir, `p${Math.random()}`, body), Buffer.from('{}'), env);
  const e1 = await t.throwsAsync(
    run('echo "noise" >&2; printf \'{"code":11,"msg":"busy","details":"retry"}\'; exit 1'),
    {
      instanceOf: PluginError,
    },
  );
  t.like(e1, { code: 11, msg: 'busy', details: 'retry', message: 'busy; retry' });
  t.like(e1?.run, { exitCode: 1, stderr: 'noise\n' });
  const e2 = await t.throwsAsync(run('echo "it broke" >&2; exit 3'), { instanceOf: PluginError });
  t.like(e2, { code: 0, message: 'netplugin failed: "it broke\\n"' });
  const e3 = await t.throwsAsync(run('exit 2'), { instanceOf: PluginError });
  t.is(e3?.message, 'netplugin failed with no error message: exit status 2');
  const e4 = await t.throwsAsync(run('echo "not json"; exit 1'), { instanceOf: PluginError });
  t.regex(e4?.message ?? '', /^netplugin failed but error parsing its diagnostic message "not json\\n": /);
});

test("a successful plugin's stderr goes to the caller's stderr sink", async (t) => {
  const dir = tempDir(t);
  const seen: string[] = [];
  const exec = new RawExec({ env: { PATH }, stderr: (s) => seen.push(s) });
  await exec.execPlugin(script(dir, 'warn', 'echo "a warning" >&2; echo "{}"'), Buffer.from(''), env);
  t.deepEqual(seen, ['a warning\n']);
});

test('a plugin that does not finish in time is killed and reported', async (t) => {
  const dir = tempDir(t);
  const exec = new RawExec({ env: { PATH }, timeoutMs: 300 });
  const e = await t.throwsAsync(exec.execPlugin(script(dir, 'slow', 'exec sleep 30'), Buffer.from(''), env));
  t.is(e?.message, 'netplugin failed with no error message: killed after the 0.3 s timeout');
});

test('"text file busy" is retried until the file is no longer being written', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'busy');
  const fd = openSync(file, 'w', 0o755);
  writeSync(fd, '#!/bin/sh\necho \'{"ok":true}\'\n');
  setTimeout(() => closeSync(fd), 250); // still open for writing: execve fails with ETXTBSY
  const exec = new RawExec({ env: { PATH }, busyDelayMs: 100 });
  t.is(await exec.execPlugin(file, Buffer.from(''), env), '{"ok":true}\n');
  const fd2 = openSync(join(dir, 'busy2'), 'w', 0o755);
  t.teardown(() => closeSync(fd2));
  const e = await t.throwsAsync(
    new RawExec({ env: { PATH }, busyDelayMs: 10, busyRetries: 2 }).execPlugin(
      join(dir, 'busy2'),
      Buffer.from(''),
      env,
    ),
  );
  t.regex(e?.message ?? '', /ETXTBSY|text file busy/i, 'gives up after the retries');
});

test('a prefix runs the plugin through another command (e.g. ip netns exec)', async (t) => {
  const dir = tempDir(t);
  const p = script(dir, 'p', 'echo "$0 $CNI_COMMAND"');
  const exec = new RawExec({ env: { PATH }, prefix: ['env', 'X=1'] });
  t.is(await exec.execPlugin(p, Buffer.from(''), env), `${p} ADD\n`);
});

test('findInPath takes the first directory holding a regular file of that name', (t) => {
  const a = tempDir(t);
  const b = tempDir(t);
  script(b, 'bridge', 'true');
  script(a, 'other', 'true');
  t.is(findInPath('bridge', [a, b]), join(b, 'bridge'));
  t.throws(() => findInPath('bridge', [a]), { message: `failed to find plugin "bridge" in path [${a}]` });
  t.throws(() => findInPath('', [a]), { message: 'no plugin name provided' });
  t.throws(() => findInPath('../bridge', [a]), { message: 'invalid plugin name: ../bridge' });
  t.throws(() => findInPath('bridge', []), { message: 'no paths provided' });
});
