import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import {
  CniConfig,
  MultiError,
  NetworkError,
  type RuntimeConf,
  cacheFilePath,
  confListFromObject,
  pluginConfFromBytes,
  pluginErrorOf,
} from '../src/index.js';
import { FakeExec, tempDir } from './helpers.js';

const LIST = {
  cniVersion: '1.0.0',
  name: 'net',
  plugins: [
    { type: 'bridge', bridge: 'cni0', capabilities: { portMappings: true, ips: false } },
    { type: 'portmap', capabilities: { portMappings: true } },
  ],
};
const RT: RuntimeConf = {
  containerID: 'c1',
  netns: '/run/netns/p',
  ifName: 'eth0',
  args: [
    ['K8S_POD_NAME', 'web'],
    ['IgnoreUnknown', '1'],
  ],
  capabilityArgs: { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }], ips: ['10.0.0.5/24'] },
};
const BRIDGE_RESULT = JSON.stringify({
  cniVersion: '1.0.0',
  interfaces: [{ name: 'cni0', mac: '0a:00:00:00:00:01' }],
  ips: [{ interface: 0, address: '10.0.0.5/24', gateway: '10.0.0.1' }],
  dns: {},
});

function setup(t: Parameters<typeof tempDir>[0], answer?: ConstructorParameters<typeof FakeExec>[0]) {
  const exec = new FakeExec(
    answer ?? ((c) => (c.type === 'bridge' && c.command === 'ADD' ? BRIDGE_RESULT : undefined)),
  );
  const cacheDir = tempDir(t);
  return { exec, cacheDir, cni: new CniConfig({ path: ['/fake'], cacheDir, exec }) };
}

test('ADD runs the plugins in order with the request config libcni builds, and caches the result in its format', async (t) => {
  const { exec, cacheDir, cni } = setup(t);
  const list = confListFromObject(LIST);
  const result = await cni.addNetworkList(list, RT);
  t.deepEqual(exec.sequence, ['bridge ADD', 'portmap ADD']);
  const [bridge, portmap] = exec.calls;
  t.is(
    bridge?.stdin,
    '{"bridge":"cni0","capabilities":{"ips":false,"portMappings":true},"cniVersion":"1.0.0","name":"net",' +
      '"runtimeConfig":{"portMappings":[{"containerPort":80,"hostPort":8080,"protocol":"tcp"}]},"type":"bridge"}',
    'keys sorted, name and version injected, only the capabilities the plugin declares as runtimeConfig',
  );
  t.deepEqual(bridge?.env, {
    CNI_COMMAND: 'ADD',
    CNI_CONTAINERID: 'c1',
    CNI_NETNS: '/run/netns/p',
    CNI_ARGS: 'K8S_POD_NAME=web;IgnoreUnknown=1',
    CNI_IFNAME: 'eth0',
    CNI_PATH: '/fake',
  });
  t.is(
    portmap?.stdin,
    '{"capabilities":{"portMappings":true},"cniVersion":"1.0.0","name":"net","prevResult":{"cniVersion":"1.0.0",' +
      '"interfaces":[{"mac":"0a:00:00:00:00:01","name":"cni0"}],"ips":[{"address":"10.0.0.5/24","gateway":"10.0.0.1",' +
      '"interface":0}]},"runtimeConfig":{"portMappings":[{"containerPort":80,"hostPort":8080,"protocol":"tcp"}]},"type":"portmap"}',
  );
  t.like(result, { cniVersion: '1.0.0', ips: [{ address: '10.0.0.5/24', gateway: '10.0.0.1', interface: 0 }] });
  const file = cacheFilePath(cacheDir, 'net', RT);
  t.is(file, join(cacheDir, 'results', 'net-c1-eth0'));
  t.is(
    readFileSync(file, 'utf8'),
    `{"kind":"cniCacheV1","containerId":"c1","config":"${Buffer.from(JSON.stringify(LIST)).toString('base64')}",` +
      '"ifName":"eth0","networkName":"net","netns":"/run/netns/p","cniArgs":[["K8S_POD_NAME","web"],["IgnoreUnknown","1"]],' +
      '"capabilityArgs":{"ips":["10.0.0.5/24"],"portMappings":[{"containerPort":80,"hostPort":8080,"protocol":"tcp"}]},' +
      '"result":{"cniVersion":"1.0.0","interfaces":[{"mac":"0a:00:00:00:00:01","name":"cni0"}],' +
      '"ips":[{"address":"10.0.0.5/24","gateway":"10.0.0.1","interface":0}]}}',
  );
  t.deepEqual(cni.getNetworkListCachedResult(list, RT), result);
  t.deepEqual(cni.getNetworkListCachedConfig(list, RT)?.rt.capabilityArgs, RT.capabilityArgs);
});

test('CHECK runs in order and DEL in reverse, both with the cached result; DEL forgets the attachment', async (t) => {
  const { exec, cacheDir, cni } = setup(t);
  const list = confListFromObject(LIST);
  await cni.addNetworkList(list, RT);
  exec.calls.length = 0;
  await cni.checkNetworkList(list, RT);
  await cni.delNetworkList(list, RT);
  t.deepEqual(exec.sequence, ['bridge CHECK', 'portmap CHECK', 'portmap DEL', 'bridge DEL']);
  for (const c of exec.calls) t.is(c.conf.prevResult?.ips?.[0]?.address, '10.0.0.5/24', `${c.type} ${c.command}`);
  t.false(existsSync(cacheFilePath(cacheDir, 'net', RT)));
  exec.calls.length = 0;
  await cni.delNetworkList(list, RT);
  t.false('prevResult' in (exec.calls[0]?.conf ?? {}), 'a second DEL has no cached result to pass');
});

test('before 0.4.0 DEL passes no prevResult and CHECK is refused; disableCheck skips CHECK', async (t) => {
  const { exec, cni } = setup(t, () => '{"cniVersion":"0.3.1","ips":[{"version":"4","address":"10.0.0.7/24"}]}');
  const old = confListFromObject({ ...LIST, cniVersion: '0.3.1' });
  await cni.addNetworkList(old, RT);
  await cni.delNetworkList(old, RT);
  t.false('prevResult' in (exec.calls.at(-1)?.conf ?? {}));
  await t.throwsAsync(cni.checkNetworkList(old, RT), {
    message: 'configuration version "0.3.1" does not support the CHECK command',
  });
  exec.calls.length = 0;
  await cni.checkNetworkList(confListFromObject({ ...LIST, disableCheck: true }), RT);
  t.deepEqual(exec.calls, []);
});

test('a cached result is converted to the version of the list it is used with', async (t) => {
  const { exec, cni } = setup(t);
  await cni.addNetworkList(confListFromObject(LIST), RT);
  exec.calls.length = 0;
  await cni.delNetworkList(confListFromObject({ ...LIST, cniVersion: '0.4.0' }), RT);
  t.deepEqual(exec.calls[0]?.conf.prevResult, {
    cniVersion: '0.4.0',
    interfaces: [{ name: 'cni0', mac: '0a:00:00:00:00:01' }],
    ips: [{ version: '4', interface: 0, address: '10.0.0.5/24', gateway: '10.0.0.1' }],
    dns: {},
  });
});

test('a failing plugin stops ADD; the error names the plugin and keeps its CNI code and details', async (t) => {
  const { exec, cacheDir, cni } = setup(t, (c) =>
    c.type === 'portmap' ? { fail: { code: 7, msg: 'bad hostPort', details: 'use 1-65535' } } : BRIDGE_RESULT,
  );
  const err = await t.throwsAsync(cni.addNetworkList(confListFromObject(LIST), RT), { instanceOf: NetworkError });
  t.is(err?.message, 'plugin type="portmap" failed (add): bad hostPort; use 1-65535');
  t.like(pluginErrorOf(err), { code: 7, msg: 'bad hostPort', details: 'use 1-65535' });
  t.false(existsSync(cacheFilePath(cacheDir, 'net', RT)), 'nothing cached for a failed ADD');
  t.deepEqual(exec.sequence, ['bridge ADD', 'portmap ADD']);
});

test('ADD validates the container ID, network name and interface name with libcni codes', async (t) => {
  const { exec, cni } = setup(t);
  const list = confListFromObject(LIST);
  const code = async (rt: Partial<RuntimeConf>, l = list) =>
    pluginErrorOf(await t.throwsAsync(cni.addNetworkList(l, { ...RT, ...rt })))?.code;
  t.is(await code({ containerID: '' }), 3);
  t.is(await code({ containerID: 'a/b' }), 4);
  t.is(await code({ ifName: 'a-very-long-name0' }), 4);
  t.is(await code({ ifName: 'eth 0' }), 4);
  t.is(await code({}, confListFromObject({ ...LIST, name: 'bad name' })), 7);
  t.deepEqual(exec.calls, [], 'no plugin ran');
  await t.throwsAsync(cni.addNetworkList(confListFromObject({ ...LIST, plugins: [{ type: 'a/b' }] }), RT), {
    message: 'plugin type="a/b" failed (add): invalid plugin name: a/b',
  });
});

test('a plugin result without cniVersion is taken to be in the config version', async (t) => {
  const { cni } = setup(t, () => '{"ips":[{"address":"10.9.0.2/16"}]}');
  const r = await cni.addNetworkList(confListFromObject({ ...LIST, plugins: [{ type: 'x' }] }), RT);
  t.deepEqual(r, { cniVersion: '1.0.0', ips: [{ address: '10.9.0.2/16' }] });
});

test('GC DELs every stale cached attachment of this network, then sends GC with the valid ones to each plugin', async (t) => {
  const { exec, cacheDir, cni } = setup(t);
  const list = confListFromObject({ ...LIST, cniVersion: '1.1.0' });
  const other = confListFromObject({ ...LIST, name: 'other', cniVersion: '1.1.0' });
  for (const id of ['keep', 'stale']) await cni.addNetworkList(list, { ...RT, containerID: id });
  await cni.addNetworkList(other, { ...RT, containerID: 'stale' });
  exec.calls.length = 0;
  await cni.gcNetworkList(list, { validAttachments: [{ containerID: 'keep', ifname: 'eth0' }] });
  t.deepEqual(exec.sequence, ['portmap DEL', 'bridge DEL', 'bridge GC', 'portmap GC']);
  const del = exec.calls[0];
  t.is(del?.env.CNI_CONTAINERID, 'stale');
  t.is(del?.env.CNI_NETNS, '/run/netns/p', 'the netns recorded in the cache');
  t.is(del?.env.CNI_ARGS, 'K8S_POD_NAME=web;IgnoreUnknown=1');
  t.truthy(del?.conf.runtimeConfig, 'the cached capability args');
  const gc = exec.calls[2];
  t.is(
    gc?.stdin,
    '{"bridge":"cni0","capabilities":{"ips":false,"portMappings":true},"cni.dev/attachments":[{"containerID":"keep","ifname":"eth0"}],' +
      '"cni.dev/valid-attachments":[{"containerID":"keep","ifname":"eth0"}],"cniVersion":"1.1.0","name":"net","type":"bridge"}',
  );
  t.deepEqual(gc?.env, {
    CNI_COMMAND: 'GC',
    CNI_CONTAINERID: '',
    CNI_NETNS: '',
    CNI_ARGS: '',
    CNI_IFNAME: '',
    CNI_PATH: '/fake',
  });
  t.deepEqual(
    cni.getCachedAttachments().map((a) => `${a.network}/${a.containerID}`),
    ['net/keep', 'other/stale'],
  );
  t.deepEqual(
    cni.getCachedAttachments('stale').map((a) => a.network),
    ['other'],
  );
  t.true(existsSync(cacheDir));
});

test('GC goes on after errors and reports them all; disableGC and pre-1.1.0 lists skip the GC verb', async (t) => {
  const { exec, cni } = setup(t, (c) =>
    c.command === 'GC' || (c.command === 'DEL' && c.type === 'portmap')
      ? { fail: { code: 999, msg: `${c.type} ${c.command} broke` } }
      : undefined,
  );
  const list = confListFromObject({ ...LIST, cniVersion: '1.1.0' });
  await cni.addNetworkList(list, RT);
  const err = await t.throwsAsync(cni.gcNetworkList(list, { validAttachments: [] }), { instanceOf: MultiError });
  t.deepEqual(err?.message.split('\n'), [
    'failed to delete stale attachment c1 eth0: plugin type="portmap" failed (delete): portmap DEL broke',
    'failed to GC plugin bridge: bridge GC broke',
    'failed to GC plugin portmap: portmap GC broke',
  ]);
  exec.calls.length = 0;
  await cni.gcNetworkList(confListFromObject({ ...LIST, cniVersion: '1.1.0', disableGC: true }));
  t.deepEqual(exec.calls, []);
  // the stale attachment is still cached (its DEL failed): a 1.0.0 GC retries the DEL but sends no GC verb
  await t.throwsAsync(cni.gcNetworkList(confListFromObject({ ...LIST, cniVersion: '1.0.0' })), {
    instanceOf: MultiError,
  });
  t.deepEqual(exec.sequence, ['portmap DEL']);
});

test('STATUS asks every plugin from 1.1.0 and stops at the first that is not ready', async (t) => {
  const { exec, cni } = setup(t, (c) => (c.type === 'bridge' ? { fail: { code: 50, msg: 'not ready' } } : undefined));
  await cni.getStatusNetworkList(confListFromObject(LIST));
  t.deepEqual(exec.calls, [], 'a 1.0.0 list has no STATUS');
  const err = await t.throwsAsync(cni.getStatusNetworkList(confListFromObject({ ...LIST, cniVersion: '1.1.0' })));
  t.is(pluginErrorOf(err)?.code, 50);
  t.deepEqual(exec.sequence, ['bridge STATUS']);
  t.deepEqual(exec.calls[0]?.conf, { ...LIST.plugins[0], cniVersion: '1.1.0', name: 'net' });
});

test('an unreadable cached result fails CHECK but DEL goes on without it and drops the file', async (t) => {
  const { exec, cacheDir, cni } = setup(t);
  const list = confListFromObject(LIST);
  const file = cacheFilePath(cacheDir, 'net', RT);
  mkdirSync(join(cacheDir, 'results'), { recursive: true });
  writeFileSync(file, '{"kind":"cniCacheV1","result":{"cniVersion":"7.0.0"}}');
  await t.throwsAsync(cni.checkNetworkList(list, RT), { message: /failed to get network "net" cached result/ });
  await cni.delNetworkList(list, RT);
  t.deepEqual(exec.sequence, ['portmap DEL', 'bridge DEL']);
  t.false(existsSync(file));
});

test('a cache entry that is a directory does not block DEL: the plugins run without prevResult and DEL succeeds', async (t) => {
  const { exec, cacheDir, cni } = setup(t);
  const list = confListFromObject(LIST);
  const file = cacheFilePath(cacheDir, 'net', RT);
  mkdirSync(join(file, 'inside'), { recursive: true });
  await cni.delNetworkList(list, RT);
  t.deepEqual(exec.sequence, ['portmap DEL', 'bridge DEL']);
  t.true(existsSync(join(file, 'inside')), 'a directory is never removed recursively');
});

test('a legacy cache file holding a bare result is read as that result', async (t) => {
  const { exec, cacheDir, cni } = setup(t);
  mkdirSync(join(cacheDir, 'results'), { recursive: true });
  writeFileSync(
    cacheFilePath(cacheDir, 'net', RT),
    '{"cniVersion":"0.4.0","ips":[{"version":"4","address":"10.0.0.8/24"}],"dns":{}}',
  );
  await cni.checkNetworkList(confListFromObject(LIST), RT);
  t.deepEqual(exec.calls[0]?.conf.prevResult, { cniVersion: '1.0.0', ips: [{ address: '10.0.0.8/24' }] });
});

test('VERSION probing: the answer is decoded as libcni does and validateNetworkList checks every plugin', async (t) => {
  const answers: Record<string, string> = {
    bridge: '{"cniVersion":"1.0.0","supportedVersions":["0.3.1","0.4.0","1.0.0"]}',
    portmap: '{"cniVersion":"0.2.0"}',
  };
  const { exec, cni } = setup(t, (c) => answers[c.type]);
  t.deepEqual(await cni.getVersionInfo('bridge'), {
    cniVersion: '1.0.0',
    supportedVersions: ['0.3.1', '0.4.0', '1.0.0'],
  });
  t.deepEqual(exec.calls[0]?.env, {
    CNI_COMMAND: 'VERSION',
    CNI_CONTAINERID: '',
    CNI_NETNS: 'dummy',
    CNI_ARGS: '',
    CNI_IFNAME: 'dummy',
    CNI_PATH: 'dummy',
  });
  t.is(exec.calls[0]?.stdin, '{"cniVersion":"1.1.0"}');
  t.deepEqual((await cni.getVersionInfo('portmap')).supportedVersions, ['0.1.0', '0.2.0']);
  t.deepEqual(await cni.validateNetworkList(confListFromObject({ ...LIST, plugins: [LIST.plugins[0]] })), [
    'portMappings',
  ]);
  const err = await t.throwsAsync(cni.validateNetworkList(confListFromObject(LIST)));
  t.is(err?.message, 'plugin portmap does not support config version "1.0.0"');
});

test('a single plugin config runs and caches under its own name', async (t) => {
  const { exec, cacheDir, cni } = setup(t, () => BRIDGE_RESULT);
  const conf = pluginConfFromBytes('{"cniVersion":"1.0.0","name":"solo","type":"bridge"}');
  await cni.addNetwork(conf, RT);
  t.true(existsSync(join(cacheDir, 'results', 'solo-c1-eth0')));
  await cni.checkNetwork(conf, RT);
  await cni.delNetwork(conf, RT);
  t.deepEqual(exec.sequence, ['bridge ADD', 'bridge CHECK', 'bridge DEL']);
  t.false(existsSync(join(cacheDir, 'results', 'solo-c1-eth0')));
});

test("a 0.x prevResult keeps its Go field order, unless runtimeConfig is injected (libcni's second InjectConf sorts it)", async (t) => {
  const r040 = '{"cniVersion":"0.4.0","ips":[{"version":"4","address":"10.0.0.5/24"}],"dns":{}}';
  const { exec, cni } = setup(t, (c) => (c.command === 'ADD' && !c.conf.prevResult ? r040 : undefined));
  const list = confListFromObject({
    cniVersion: '0.4.0',
    name: 'n',
    plugins: [{ type: 'a' }, { type: 'b' }, { type: 'c', capabilities: { portMappings: true } }],
  });
  await cni.addNetworkList(list, RT);
  const prevText = (i: number, next: string) => {
    const s = exec.calls[i]?.stdin ?? '';
    return s.slice(s.indexOf('"prevResult":') + '"prevResult":'.length, s.indexOf(`,"${next}":`));
  };
  t.is(prevText(1, 'type'), '{"cniVersion":"0.4.0","ips":[{"version":"4","address":"10.0.0.5/24"}],"dns":{}}');
  t.is(prevText(2, 'runtimeConfig'), '{"cniVersion":"0.4.0","dns":{},"ips":[{"address":"10.0.0.5/24","version":"4"}]}');
});

test('a best-effort DEL runs every plugin despite failures, reports them all and keeps the cache for a retry', async (t) => {
  const { exec, cacheDir, cni } = setup(t, (c) =>
    c.command === 'DEL' && c.type === 'portmap' ? { fail: { code: 7, msg: 'bad mapping' } } : BRIDGE_RESULT,
  );
  const list = confListFromObject(LIST);
  await cni.addNetworkList(list, RT);
  exec.calls.length = 0;
  await t.throwsAsync(cni.delNetworkList(list, RT), { message: /portmap.*bad mapping/ });
  t.deepEqual(exec.sequence, ['portmap DEL'], 'libcni stops at the first failing DEL');
  exec.calls.length = 0;
  const err = await t.throwsAsync(cni.delNetworkList(list, RT, { bestEffort: true }));
  t.is(err?.message, 'plugin type="portmap" failed (delete): bad mapping');
  t.deepEqual(exec.sequence, ['portmap DEL', 'bridge DEL']);
  t.true(existsSync(cacheFilePath(cacheDir, 'net', RT)), 'kept for a retry');
});
