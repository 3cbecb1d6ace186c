import test from 'ava';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CniRuntime, PluginFailure, execPlugin, repoRoot, runtimeConfig, uniquePrefix } from '../src/index.js';

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

const recorder = 'recorder-plugin';

function logOf(file: string): any[] {
  return existsSync(file)
    ? readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l))
    : [];
}

test('CniRuntime chains prevResult through the list, injects name, version and runtimeConfig, and DELs in reverse with the cached result', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cts-kit-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const log = join(dir, 'log');
  const rt = new CniRuntime({ cniPath: [fixtures], cacheDir: dir });
  const list = {
    cniVersion: '1.0.0',
    name: 'chain',
    plugins: [
      { type: recorder, log, myAddress: '10.1.0.2/24' },
      { type: recorder, log, myAddress: '10.1.0.3/24', capabilities: { portMappings: true } },
    ],
  };
  const a = {
    containerId: 'c2',
    netns: '/run/netns/y',
    ifname: 'eth0',
    cniArgs: 'IgnoreUnknown=1;K8S_POD_NAME=p',
    capabilityArgs: { portMappings: [{ hostPort: 8080 }], bandwidth: {} },
  };
  const out = await rt.add(list, a);
  t.deepEqual(out, { cniVersion: '1.0.0', ips: [{ address: '10.1.0.3/24' }] }, "the last plugin's result");
  const [first, second] = logOf(log);
  t.like(first, { command: 'ADD', containerId: 'c2', ifname: 'eth0', netns: '/run/netns/y', path: fixtures });
  t.is(first.args, 'IgnoreUnknown=1;K8S_POD_NAME=p');
  t.false('runtimeConfig' in first.stdin, 'the first plugin declared no capabilities');
  t.false('prevResult' in first.stdin);
  t.like(second.stdin, { cniVersion: '1.0.0', name: 'chain', runtimeConfig: { portMappings: [{ hostPort: 8080 }] } });
  t.deepEqual(second.stdin.prevResult, { cniVersion: '1.0.0', ips: [{ address: '10.1.0.2/24' }] });
  t.deepEqual(rt.cachedResult(list, a), out);
  t.true(existsSync(join(dir, 'results', 'chain-c2-eth0')), "cached in libcni's layout");
  await rt.check(list, a);
  await rt.del(list, a);
  const later = logOf(log).slice(2);
  t.deepEqual(
    later.map((l) => `${l.command} ${l.stdin.myAddress}`),
    ['CHECK 10.1.0.2/24', 'CHECK 10.1.0.3/24', 'DEL 10.1.0.3/24', 'DEL 10.1.0.2/24'],
  );
  for (const l of later) t.deepEqual(l.stdin.prevResult, out, `${l.command} gets the cached result`);
  t.is(rt.cachedResult(list, a), undefined, 'DEL forgets the attachment');
});

test('CniRuntime reports a failing plugin with its type, command and error; GC DELs what is no longer valid', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cts-kit-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const log = join(dir, 'log');
  const rt = new CniRuntime({ cniPath: [fixtures] });
  const a = { containerId: 'c3', netns: '/run/netns/z', ifname: 'eth0' };
  const failing = { cniVersion: '1.1.0', name: 'f', plugins: [{ type: recorder, failOn: 'ADD' }] };
  const err = await t.throwsAsync(rt.add(failing, a), {
    instanceOf: PluginFailure,
    message: /recorder-plugin ADD failed/,
  });
  t.like(err, { type: recorder, command: 'ADD' });
  t.deepEqual(err?.outcome.json, { code: 7, msg: 'asked to fail' });
  const list = { cniVersion: '1.1.0', name: 'g', plugins: [{ type: recorder, log, myAddress: '10.2.0.2/24' }] };
  await rt.add(list, a);
  await rt.add(list, { ...a, containerId: 'c4' });
  await rt.gc(list, [{ containerId: 'c4', ifname: 'eth0' }]);
  t.deepEqual(
    logOf(log)
      .slice(2)
      .map((l) => `${l.command} ${l.containerId}`),
    ['DEL c3', 'GC '],
  );
  t.deepEqual(logOf(log).at(-1).stdin['cni.dev/valid-attachments'], [{ containerID: 'c4', ifname: 'eth0' }]);
  await rt.gcPlugins(list, []);
  t.deepEqual(
    logOf(log)
      .slice(4)
      .map((l) => l.command),
    ['GC'],
    'gcPlugins sends only the GC verb',
  );
  await t.throwsAsync(rt.status({ ...list, plugins: [{ type: recorder, failOn: 'STATUS' }] }), {
    message: /recorder-plugin STATUS failed/,
  });
});
