// loopback's failures on its two paths, on the real kernel: rtnetlink requests written in place
// (the default) must fail exactly as `ip -batch` through nsenter does (CNI_TS_NETLINK=0, the
// spawned tools' own wording): a namespace that cannot be entered (not a network namespace; no
// CAP_SYS_ADMIN), a lo the kernel refuses to change (no CAP_NET_ADMIN), and the lo state each
// leaves. And the default path starts no process at all.
import anyTest, { type TestFn } from 'ava';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type Netns,
  type PluginOutcome,
  SYSTEM_PATH,
  TestNode,
  execPlugin,
  ourPlugin,
  rootTest,
  uniquePrefix,
} from '@cni-ts/testutils';

const test = rootTest(anyTest as TestFn<{ node: TestNode }>, 'loopback failures');
const plugin = ourPlugin('loopback');
const conf = { cniVersion: '1.0.0', name: 'lo-net', type: 'loopback' };
const dir = mkdtempSync(join(tmpdir(), 'cts-lo-failures-'));
const which = (tool: string) =>
  SYSTEM_PATH.split(':')
    .map((p) => join(p, tool))
    .find((p) => existsSync(p));

// the plugin without one capability (its bounding set, so the tools it spawns lack it too)
function without(cap: string): string {
  const file = join(dir, `loopback-without-${cap}`);
  writeFileSync(file, `#!/bin/sh\nexec ${which('setpriv')} --bounding-set=-${cap} --inh-caps=-${cap} ${plugin} "$@"\n`);
  chmodSync(file, 0o755);
  return file;
}

test.beforeEach(async (t) => {
  t.context.node = await TestNode.create(uniquePrefix('lofl'));
});
test.afterEach.always(async (t) => {
  await t.context.node?.destroy();
});
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

async function loUp(pod: Netns): Promise<boolean> {
  const [lo] = await pod.ipJson<any[]>(['link', 'show', 'dev', 'lo']);
  return lo.flags.includes('UP');
}

// One command on each path, each on a pod of its own in the same starting state.
async function onBoth(
  t: any,
  command: string,
  opts: { exe?: string; netns?: (pod: Netns) => string; loUp: boolean },
): Promise<Array<{ r: PluginOutcome; up: boolean; pod: Netns }>> {
  const { node } = t.context as { node: TestNode };
  const out = [];
  for (const [name, env] of [
    ['nl', {}],
    ['ip', { CNI_TS_NETLINK: '0' }],
  ] as const) {
    const pod = await node.addPod(`${name}${command.toLowerCase()}`, { loUp: opts.loUp });
    const netns = opts.netns?.(pod) ?? pod.path;
    const r = await execPlugin({
      plugin: opts.exe ?? plugin,
      command,
      config: command === 'ADD' ? conf : { ...conf, prevResult: { cniVersion: '1.0.0' } },
      containerId: 'ctr',
      netns,
      ifname: 'eth0',
      inNetns: node.node.name,
      env,
    });
    out.push({ r, up: await loUp(pod), pod });
  }
  return out;
}

// the two paths' outputs with each one's pod path made neutral
const neutral = (o: { r: PluginOutcome; pod: Netns }) => o.r.stdout.replaceAll(o.pod.path, '<pod>');

for (const command of ['ADD', 'DEL', 'CHECK']) {
  test(`${command} into a namespace file that is no network namespace: the same code-999 error on both paths`, async (t) => {
    const [nl, ip] = await onBoth(t, command, { netns: () => '/proc/self/ns/uts', loUp: false });
    t.is(nl!.r.stdout, ip!.r.stdout);
    t.deepEqual([nl!.r.exitCode, nl!.r.json?.code], [1, 999]);
    t.is(
      nl!.r.json.msg,
      "ip -batch (in netns /proc/self/ns/uts): nsenter: reassociate to namespace 'ns/net' failed: Invalid argument",
    );
  });

  test(`${command} without CAP_SYS_ADMIN (setns refused): the same code-999 error on both paths, lo untouched`, async (t) => {
    const [nl, ip] = await onBoth(t, command, { exe: without('sys_admin'), loUp: command !== 'ADD' });
    t.is(neutral(nl!), neutral(ip!));
    t.deepEqual([nl!.r.exitCode, nl!.r.json?.code], [1, 999]);
    t.is(
      nl!.r.json.msg,
      `ip -batch (in netns ${nl!.pod.path}): nsenter: reassociate to namespace 'ns/net' failed: Operation not permitted`,
    );
    t.deepEqual([nl!.up, ip!.up], [command !== 'ADD', command !== 'ADD']);
  });
}

for (const [command, verb] of [
  ['ADD', 'up'],
  ['DEL', 'down'],
] as const) {
  test(`${command} without CAP_NET_ADMIN (lo refused): the same error naming \`ip link set lo ${verb}\` on both paths, lo unchanged`, async (t) => {
    const before = command === 'DEL';
    const [nl, ip] = await onBoth(t, command, { exe: without('net_admin'), loUp: before });
    t.is(neutral(nl!), neutral(ip!));
    t.deepEqual([nl!.r.exitCode, nl!.r.json?.code], [1, 999]);
    t.is(
      nl!.r.json.msg,
      `ip link set lo ${verb} (in netns ${nl!.pod.path}): RTNETLINK answers: Operation not permitted`,
    );
    t.deepEqual([nl!.up, ip!.up], [before, before]);
  });
}

for (const loIsUp of [true, false]) {
  test(`CHECK without CAP_NET_ADMIN reads lo as the kernel has it (${loIsUp ? 'up: passes' : 'down: code 100'}) on both paths`, async (t) => {
    const [nl, ip] = await onBoth(t, 'CHECK', { exe: without('net_admin'), loUp: loIsUp });
    t.is(neutral(nl!), neutral(ip!));
    t.is(nl!.r.exitCode, loIsUp ? 0 : 1);
    if (!loIsUp) t.deepEqual([nl!.r.json.code, nl!.r.json.msg], [100, 'loopback interface is down']);
  });
}

test('the default path starts no process: ADD, CHECK and DEL with neither nsenter nor ip on PATH', async (t) => {
  const { node } = t.context;
  // `ip` for the test runner's own `ip netns exec` only, logging every call
  const tools = mkdtempSync(join(dir, 'tools-'));
  const log = join(tools, 'ip.log');
  writeFileSync(join(tools, 'ip'), `#!/bin/sh\necho "$*" >> ${log}\nexec ${which('ip')} "$@"\n`);
  chmodSync(join(tools, 'ip'), 0o755);
  symlinkSync(which('sh')!, join(tools, 'sh'));
  const pod = await node.addPod('noproc', { loUp: false });
  const call = (command: string, env: Record<string, string> = {}) =>
    execPlugin({
      plugin,
      command,
      config: command === 'ADD' ? conf : { ...conf, prevResult: { cniVersion: '1.0.0' } },
      containerId: 'ctr',
      netns: pod.path,
      ifname: 'eth0',
      inNetns: node.node.name,
      env: { PATH: tools, ...env },
    });
  const add = await call('ADD');
  t.is(add.exitCode, 0, add.stdout);
  t.true(await loUp(pod));
  t.is((await call('CHECK')).exitCode, 0);
  t.is((await call('DEL')).exitCode, 0);
  t.false(await loUp(pod));
  const calls = readFileSync(log, 'utf8').split('\n').filter(Boolean);
  t.deepEqual(
    calls.filter((l) => !l.startsWith('netns exec ')),
    [],
  );
  // and the test can fail: the ip path needs nsenter, which this PATH lacks
  const spawning = await call('ADD', { CNI_TS_NETLINK: '0' });
  t.is(spawning.exitCode, 1);
  t.regex(spawning.json.msg, /nsenter: command not found/);
});
