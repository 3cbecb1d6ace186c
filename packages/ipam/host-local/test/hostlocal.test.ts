// The handlers through skel's dispatch (injected env/stdin/stdout), on a temporary dataDir.
import test from 'ava';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lockFile } from '@cni-ts/process';
import { FakeExecutor } from '@cni-ts/testutils';
import { dispatch } from '@cni-ts/skel';
import { hostLocal } from '../src/index.js';

const root = mkdtempSync(join(tmpdir(), 'cts-hl-unit-'));
test.after.always(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = () => join(root, `d${++n}`);

interface Out {
  code: number;
  json: any;
  stdout: string;
  stderr: string;
}

async function run(command: string, conf: object, env: Record<string, string> = {}): Promise<Out> {
  let stdout = '';
  let stderr = '';
  const code = await dispatch(hostLocal, {
    env: {
      CNI_COMMAND: command,
      CNI_CONTAINERID: 'ctr1',
      CNI_NETNS: '/run/netns/x',
      CNI_IFNAME: 'eth0',
      CNI_PATH: '/opt/cni/bin',
      ...env,
    },
    readStdin: () => JSON.stringify(conf),
    stdout: (s) => {
      stdout += s;
    },
    stderr: (s) => {
      stderr += s;
    },
    exec: new FakeExecutor(),
    probeNetns: () => 'ok',
  });
  return { code, stdout, stderr, json: stdout ? JSON.parse(stdout) : undefined };
}

const conf = (dataDir: string, v = '1.1.0', ipam: object = {}, extra: object = {}) => ({
  cniVersion: v,
  name: 'net1',
  type: 'bridge',
  ipam: { type: 'host-local', dataDir, ranges: [[{ subnet: '10.1.0.0/24' }], [{ subnet: '2001:db8::/64' }]], ...ipam },
  ...extra,
});
const files = (dataDir: string) => readdirSync(join(dataDir, 'net1')).sort();

test("ADD prints the result in each version's shape, with routes and DNS", async (t) => {
  const dataDir = freshDir();
  const resolv = join(root, 'resolv.conf');
  writeFileSync(
    resolv,
    '# comment\nnameserver 10.0.0.53\nnameserver 10.0.0.54\ndomain example.org\nsearch a.example b.example\n; x\noptions ndots:2 edns0\n',
  );
  const ipam = { routes: [{ dst: '0.0.0.0/0' }], resolvConf: resolv };
  const dns = {
    nameservers: ['10.0.0.53', '10.0.0.54'],
    domain: 'example.org',
    search: ['a.example', 'b.example'],
    options: ['ndots:2', 'edns0'],
  };
  const v1 = await run('ADD', conf(dataDir, '1.1.0', ipam), { CNI_CONTAINERID: 'a' });
  t.deepEqual(v1.json, {
    cniVersion: '1.1.0',
    dns,
    ips: [
      { address: '10.1.0.2/24', gateway: '10.1.0.1' },
      { address: '2001:db8::2/64', gateway: '2001:db8::1' },
    ],
    routes: [{ dst: '0.0.0.0/0' }],
  });
  const v04 = await run('ADD', conf(dataDir, '0.4.0', ipam), { CNI_CONTAINERID: 'b' });
  t.deepEqual(v04.json, {
    cniVersion: '0.4.0',
    ips: [
      { version: '4', address: '10.1.0.3/24', gateway: '10.1.0.1' },
      { version: '6', address: '2001:db8::3/64', gateway: '2001:db8::1' },
    ],
    routes: [{ dst: '0.0.0.0/0' }],
    dns,
  });
  const v02 = await run('ADD', conf(dataDir, '0.2.0'), { CNI_CONTAINERID: 'c' });
  t.deepEqual(v02.json, {
    cniVersion: '0.2.0',
    ip4: { ip: '10.1.0.4/24', gateway: '10.1.0.1' },
    ip6: { ip: '2001:db8::4/64', gateway: '2001:db8::1' },
    dns: {},
  });
});

test('DEL releases only its attachment, is repeatable, and needs no valid ranges', async (t) => {
  const dataDir = freshDir();
  await run('ADD', conf(dataDir), { CNI_CONTAINERID: 'a' });
  await run('ADD', conf(dataDir), { CNI_CONTAINERID: 'b' });
  const broken = conf(dataDir, '1.1.0', { ranges: [[{ subnet: 'nonsense' }]] });
  t.is((await run('DEL', broken, { CNI_CONTAINERID: 'a' })).code, 0);
  t.deepEqual(files(dataDir), ['10.1.0.3', '2001:db8::3', 'last_reserved_ip.0', 'last_reserved_ip.1', 'lock']);
  const again = await run('DEL', conf(dataDir), { CNI_CONTAINERID: 'a' });
  t.deepEqual([again.code, again.stdout], [0, '']);
});

test('DEL with a configuration that names no usable store succeeds, says why, and touches nothing', async (t) => {
  const dataDir = freshDir();
  await run('ADD', conf(dataDir));
  const before = files(dataDir);
  const base = conf(dataDir) as Record<string, any>;
  for (const [what, ipam] of [
    ['no ipam', undefined],
    ['ipam not an object', 'host-local'],
    ['a dataDir of the wrong type', { ...base.ipam, dataDir: 5 }],
    ['a relative dataDir', { ...base.ipam, dataDir: 'var/lib/cni' }],
    ['a dataDir with ".."', { ...base.ipam, dataDir: `${dataDir}/../x` }],
  ] as const) {
    const r = await run('DEL', { ...base, ipam });
    t.deepEqual([r.code, r.stdout], [0, ''], what);
    t.regex(r.stderr, /DEL: nothing to release: .*could not have reserved anything/, what);
  }
  t.deepEqual(files(dataDir), before);
});

test('DEL of a network that never had a store succeeds and creates nothing', async (t) => {
  const dataDir = freshDir();
  t.is((await run('DEL', conf(dataDir))).code, 0);
  t.false(existsSync(dataDir));
});

test('DEL releases legacy id-only files only when no exact file exists', async (t) => {
  const dataDir = freshDir();
  await run('ADD', conf(dataDir));
  writeFileSync(join(dataDir, 'net1', '10.1.0.50'), 'ctr1');
  await run('DEL', conf(dataDir));
  t.deepEqual(files(dataDir), ['10.1.0.50', 'last_reserved_ip.0', 'last_reserved_ip.1', 'lock']);
  await run('DEL', conf(dataDir));
  t.deepEqual(files(dataDir), ['last_reserved_ip.0', 'last_reserved_ip.1', 'lock']);
});

test('CHECK passes after ADD and fails with code 100 once a reservation is gone', async (t) => {
  const dataDir = freshDir();
  const add = await run('ADD', conf(dataDir, '1.0.0'));
  const withPrev = conf(dataDir, '1.0.0', {}, { prevResult: add.json });
  t.is((await run('CHECK', withPrev)).code, 0);
  unlinkSync(join(dataDir, 'net1', '2001:db8::2'));
  const r = await run('CHECK', withPrev);
  t.is(r.code, 1);
  t.is(r.json.code, 100);
  t.is(
    r.json.msg,
    'host-local: Failed to find address added by container ctr1 (interface eth0) in network "net1": ' +
      'no address of range set 1 (2001:db8::1-2001:db8::ffff:ffff:ffff:ffff) is reserved for it; prevResult address 2001:db8::2/64 is not reserved for it',
  );
  const other = await run('CHECK', conf(dataDir, '1.0.0'), { CNI_IFNAME: 'eth1' });
  t.is(other.json?.code, 100);
  const none = await run('CHECK', conf(freshDir(), '1.0.0'));
  t.is(none.json?.code, 100);
});

test('GC releases what is not valid (legacy files by container), keeps lock, cursors and valid ones', async (t) => {
  const dataDir = freshDir();
  for (const [id, ifname] of [
    ['keep', 'eth0'],
    ['keep', 'eth1'],
    ['gone', 'eth0'],
  ])
    await run('ADD', conf(dataDir), { CNI_CONTAINERID: id!, CNI_IFNAME: ifname! });
  const dir = join(dataDir, 'net1');
  writeFileSync(join(dir, '10.1.0.100'), 'keep');
  writeFileSync(join(dir, '10.1.0.101'), 'gone');
  writeFileSync(join(dir, '10.1.0.102'), '');
  writeFileSync(join(dir, '.host-local.tmp.999.10.1.0.9'), 'gone\r\neth0');
  const gc = await run('GC', {
    ...conf(dataDir),
    'cni.dev/valid-attachments': [
      { containerID: 'keep', ifname: 'eth0' },
      { containerID: 'keep', ifname: 'eth1' },
    ],
  });
  t.deepEqual([gc.code, gc.stdout], [0, '']);
  t.deepEqual(files(dataDir), [
    '10.1.0.100',
    '10.1.0.2',
    '10.1.0.3',
    '2001:db8::2',
    '2001:db8::3',
    'last_reserved_ip.0',
    'last_reserved_ip.1',
    'lock',
  ]);
  t.regex(gc.stderr, /GC released 10\.1\.0\.4 of network "net1" \(container gone interface eth0\)/);
  t.regex(gc.stderr, /GC released 10\.1\.0\.101 of network "net1" \(container gone\)/);
  t.is(readFileSync(join(dir, 'last_reserved_ip.0'), 'utf8'), '10.1.0.4');
});

test('GC with an empty valid list releases every reservation; without the key it releases nothing', async (t) => {
  const dataDir = freshDir();
  await run('ADD', conf(dataDir));
  const none = await run('GC', conf(dataDir));
  t.is(none.code, 0);
  t.regex(none.stderr, /nothing released/);
  t.is(files(dataDir).length, 5);
  t.is((await run('GC', { ...conf(dataDir), 'cni.dev/attachments': [] })).code, 0);
  t.deepEqual(files(dataDir), ['last_reserved_ip.0', 'last_reserved_ip.1', 'lock']);
  t.is((await run('GC', { ...conf(freshDir()), 'cni.dev/valid-attachments': [] })).code, 0, 'no store: nothing to do');
});

test('STATUS: ready, not ready when a range set is full or the store is busy (code 50), code 7 for config errors', async (t) => {
  const dataDir = freshDir();
  t.is((await run('STATUS', conf(dataDir))).code, 0, 'no store yet, but it can be created');
  const tiny = conf(dataDir, '1.1.0', { ranges: [[{ subnet: '10.9.0.0/30' }]] });
  await run('ADD', tiny);
  const full = await run('STATUS', tiny);
  t.is(full.json?.code, 50);
  t.is(
    full.json?.msg,
    'no IP addresses available in range set 0 (10.9.0.1-10.9.0.2) of network "net1": all 1 usable addresses are reserved',
  );
  await run('DEL', tiny);
  t.is((await run('STATUS', tiny)).code, 0);
  const lock = await lockFile(join(dataDir, 'net1', 'lock'));
  const busy = await run('STATUS', tiny, { CNI_TS_LOCK_TIMEOUT_MS: '100' });
  lock.release();
  t.is(busy.json?.code, 50);
  t.regex(busy.json?.msg, /is busy/);
  const bad = await run('STATUS', conf(dataDir, '1.1.0', { ranges: [[{ subnet: '10.9.0.0/31' }]] }));
  t.is(bad.json?.code, 7);
});

test('a busy store makes ADD answer code 11 after CNI_TS_LOCK_TIMEOUT_MS', async (t) => {
  const dataDir = freshDir();
  await run('ADD', conf(dataDir), { CNI_CONTAINERID: 'first' });
  const lock = await lockFile(join(dataDir, 'net1', 'lock'));
  const r = await run('ADD', conf(dataDir), { CNI_TS_LOCK_TIMEOUT_MS: '200' });
  lock.release();
  t.is(r.json?.code, 11);
  t.regex(r.json?.msg, /^the IP store of network "net1" is busy: could not lock .* within 200 ms/);
  t.deepEqual(files(dataDir), ['10.1.0.2', '2001:db8::2', 'last_reserved_ip.0', 'last_reserved_ip.1', 'lock']);
});

test('a store directory that is a symbolic link is refused by every verb with code 7', async (t) => {
  const dataDir = freshDir();
  await run('ADD', conf(join(root, 'elsewhere')));
  await run('DEL', conf(join(root, 'elsewhere')));
  mkdirSync(dataDir);
  symlinkSync(join(root, 'elsewhere', 'net1'), join(dataDir, 'net1'));
  for (const cmd of ['ADD', 'DEL', 'CHECK', 'GC', 'STATUS']) {
    const r = await run(cmd, { ...conf(dataDir), 'cni.dev/valid-attachments': [] });
    t.is(r.json?.code, 7, cmd);
    t.regex(r.json?.msg, /is a symbolic link$/, cmd);
  }
  t.deepEqual(readdirSync(join(root, 'elsewhere', 'net1')).sort(), [
    'last_reserved_ip.0',
    'last_reserved_ip.1',
    'lock',
  ]);
});
