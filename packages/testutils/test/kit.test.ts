import test from 'ava';
import { join } from 'node:path';
import { CniRuntime, execPlugin, repoRoot, runtimeConfig, uniquePrefix } from '../src/index.js';

const fixtures = join(repoRoot, 'packages', 'testutils', 'test', 'fixtures');
const echo = join(fixtures, 'echo-plugin');

test('uniquePrefix is unique per call and short enough to leave room in a 15-byte link name', (t) => {
  const a = uniquePrefix('br');
  const b = uniquePrefix('br');
  t.not(a, b);
  t.true(a.startsWith('ctbr'));
  t.true(a.length <= 11, a);
});

test('runtimeConfig passes only the capabilities a plugin declared', (t) => {
  const args = { portMappings: [{ hostPort: 80 }], bandwidth: { ingressRate: 1 } };
  t.deepEqual(runtimeConfig({ portMappings: true, bandwidth: false }, args), { portMappings: [{ hostPort: 80 }] });
  t.is(runtimeConfig(undefined, args), undefined);
  t.is(runtimeConfig({ ips: true }, args), undefined);
});

test('execPlugin sets the CNI environment, sends the config on stdin and parses the output', async (t) => {
  const r = await execPlugin({
    plugin: echo,
    command: 'ADD',
    containerId: 'c1',
    netns: '/run/netns/x',
    ifname: 'eth0',
    cniArgs: 'A=1',
    config: { name: 'n' },
  });
  t.is(r.exitCode, 0);
  t.like(r.json, {
    command: 'ADD',
    containerId: 'c1',
    ifname: 'eth0',
    netns: '/run/netns/x',
    args: 'A=1',
    path: fixtures,
    stdin: { name: 'n' },
  });
});

test('execPlugin reports a failing plugin with its exit code and error object', async (t) => {
  const r = await execPlugin({ plugin: echo, command: 'ADD', config: { fail: true } });
  t.is(r.exitCode, 1);
  t.deepEqual(r.json, { code: 7, msg: 'asked to fail' });
});

test('CniRuntime chains prevResult through the list, and injects name, version and runtimeConfig; a failing plugin stops the chain', async (t) => {
  const rt = new CniRuntime({ cniPath: [fixtures] });
  const list = {
    cniVersion: '1.0.0',
    name: 'chain',
    plugins: [
      { type: 'echo-plugin', a: 1 },
      { type: 'echo-plugin', b: 2, capabilities: { portMappings: true } },
    ],
  };
  const a = {
    containerId: 'c2',
    netns: '/run/netns/y',
    ifname: 'eth0',
    capabilityArgs: { portMappings: [{ hostPort: 8080 }], bandwidth: {} },
  };
  const out = await rt.add(list, a);
  t.like(out.stdin, {
    cniVersion: '1.0.0',
    name: 'chain',
    b: 2,
    runtimeConfig: { portMappings: [{ hostPort: 8080 }] },
  });
  t.like(
    out.stdin.prevResult,
    { command: 'ADD', stdin: { a: 1, name: 'chain' } },
    "the second plugin got the first one's result",
  );
  t.false('runtimeConfig' in out.stdin.prevResult.stdin, 'the first plugin declared no capabilities');
  await t.notThrowsAsync(rt.del(list, a));
  await t.throwsAsync(rt.add({ ...list, plugins: [{ type: 'echo-plugin', fail: true }] }, a), {
    message: /echo-plugin ADD failed/,
  });
});
