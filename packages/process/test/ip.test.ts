import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeExecutor } from './recorder.js';
import {
  ProcessError,
  batchLine,
  bridgeBatch,
  ipBatch,
  ipJson,
  runChecked,
  sysctlPath,
  sysctlShellArgs,
  writeSysctlsIn,
} from '../src/index.js';

test('ipBatch sends every command on one stdin and enters the netns with nsenter', (t) => {
  const exec = new FakeExecutor().on(() => true, { stdout: '[{"ifname":"lo"}]\n' });
  const out = ipBatch(
    exec,
    [
      ['link', 'set', 'lo', 'up'],
      ['addr', 'show', 'dev', 'lo'],
    ],
    { netns: '/proc/42/ns/net' },
  );
  t.deepEqual(out, [[{ ifname: 'lo' }]]);
  t.deepEqual(exec.calls, [
    {
      file: 'nsenter',
      args: ['--net=/proc/42/ns/net', '--', 'ip', '-j', '-batch', '-'],
      input: 'link set lo up\naddr show dev lo\n',
    },
  ]);
});

test('ipBatch without a netns runs ip directly; an empty batch runs nothing', (t) => {
  const exec = new FakeExecutor();
  ipBatch(exec, [['link', 'del', 'x']]);
  ipBatch(exec, []);
  t.deepEqual(exec.lines(), ['ip -j -batch - << link del x']);
});

test('ipBatch names the failing command and classifies the error', (t) => {
  const exec = new FakeExecutor().on(() => true, {
    status: 1,
    stderr: 'Cannot find device "nosuch"\nCommand failed -:2\n',
  });
  const e = t.throws(
    () =>
      ipBatch(
        exec,
        [
          ['link', 'set', 'lo', 'up'],
          ['link', 'set', 'nosuch', 'up'],
        ],
        { netns: '/run/netns/p' },
      ),
    { instanceOf: ProcessError },
  );
  t.is(e?.kind, 'missing');
  t.is(e?.command, 'ip link set nosuch up');
  t.is(e?.message, 'ip link set nosuch up (in netns /run/netns/p): Cannot find device "nosuch"');
});

test('exists and busy are classified; busy carries CNI code 11', (t) => {
  const exists = new FakeExecutor().on(() => true, {
    status: 2,
    stderr: 'RTNETLINK answers: File exists\nCommand failed -:1',
  });
  t.is(
    t.throws(() => ipJson(exists, ['link', 'add', 'x', 'type', 'dummy']), { instanceOf: ProcessError })?.kind,
    'exists',
  );
  const busy = new FakeExecutor().on(() => true, {
    status: 4,
    stderr: 'Another app is currently holding the xtables lock.',
  });
  const e = t.throws(() => runChecked(busy, 'iptables-restore', ['--noflush']), { instanceOf: ProcessError });
  t.is(e?.kind, 'busy');
  t.is(e?.cniCode, 11);
});

test('batch lines quote arguments with spaces or quotes', (t) => {
  t.is(batchLine(['link', 'set', 'x', 'alias', 'a b"c']), 'link set x alias "a b\\"c"');
});

test('sysctl names: dotted names swap dots and slashes, slash names are kept', (t) => {
  t.is(sysctlPath('net.ipv4.ip_forward'), '/proc/sys/net/ipv4/ip_forward');
  t.is(sysctlPath('net/ipv4/conf/cni0.100/forwarding'), '/proc/sys/net/ipv4/conf/cni0.100/forwarding');
  t.is(sysctlPath('net.ipv4.conf.cni0/100.forwarding'), '/proc/sys/net/ipv4/conf/cni0.100/forwarding');
});

test('sysctls in another netns are written by one sh process with positional arguments', (t) => {
  const exec = new FakeExecutor();
  writeSysctlsIn(exec, '/run/netns/p', [
    ['net.ipv6.conf.eth0.accept_dad', '0'],
    ['net/ipv4/conf/eth0/arp_notify', '1'],
  ]);
  t.is(exec.calls.length, 1);
  const c = exec.calls[0]!;
  t.is(c.file, 'nsenter');
  t.deepEqual(c.args.slice(0, 4), ['--net=/run/netns/p', '--', 'sh', '-c']);
  t.deepEqual(c.args.slice(5), [
    'sh',
    '/proc/sys/net/ipv6/conf/eth0/accept_dad',
    '0',
    '/proc/sys/net/ipv4/conf/eth0/arp_notify',
    '1',
  ]);
});

test('ipBatch puts global options before -j -batch; bridgeBatch runs bridge -batch in the netns', (t) => {
  const exec = new FakeExecutor();
  ipBatch(exec, [['addr', 'show', 'dev', 'cni0']], { options: ['-d'] });
  bridgeBatch(exec, [['vlan', 'add', 'dev', 'veth1', 'vid', '5', 'pvid', 'untagged']], { netns: '/run/netns/n' });
  bridgeBatch(exec, []);
  t.deepEqual(exec.lines(), [
    'ip -d -j -batch - << addr show dev cni0',
    'nsenter --net=/run/netns/n -- bridge -batch - << vlan add dev veth1 vid 5 pvid untagged',
  ]);
});

test('bridgeBatch names the failing command', (t) => {
  const exec = new FakeExecutor().on(() => true, {
    status: 255,
    stderr: 'RTNETLINK answers: Operation not supported\nCommand failed -:1\n',
  });
  const e = t.throws(() => bridgeBatch(exec, [['vlan', 'add', 'dev', 'v', 'vid', '5']]), { instanceOf: ProcessError });
  t.is(e?.message, 'bridge vlan add dev v vid 5: RTNETLINK answers: Operation not supported');
});

test('ipBatch with sysctls in a netns writes them and runs ip in one nsenter process', (t) => {
  const exec = new FakeExecutor();
  ipBatch(exec, [['link', 'set', 'eth0', 'up']], {
    netns: '/run/netns/p',
    sysctls: [
      ['net/ipv6/conf/eth0/accept_dad', '0'],
      ['net.ipv4.conf.eth0.arp_notify', '1'],
    ],
  });
  t.is(exec.calls.length, 1);
  const c = exec.calls[0]!;
  t.deepEqual(c.args.slice(0, 4), ['--net=/run/netns/p', '--', 'sh', '-c']);
  t.deepEqual(c.args.slice(5), [
    'sh',
    '/proc/sys/net/ipv6/conf/eth0/accept_dad',
    '0',
    '/proc/sys/net/ipv4/conf/eth0/arp_notify',
    '1',
    '--',
    'ip',
    '-j',
    '-batch',
    '-',
  ]);
  t.is(c.input, 'link set eth0 up\n');
});

test('a sysctl that cannot be written is named in the error', (t) => {
  const exec = new FakeExecutor().on(() => true, {
    status: 1,
    stderr: 'sh: 1: cannot create /proc/sys/x: Permission denied\ncannot write sysctl /proc/sys/x\n',
  });
  const e = t.throws(() => ipBatch(exec, [['link', 'show']], { netns: '/run/netns/p', sysctls: [['x', '1']] }), {
    instanceOf: ProcessError,
  });
  t.regex(e!.message, /^sysctl \/proc\/sys\/x \(in netns \/run\/netns\/p\): /);
});

test('an address the kernel already has ("Address already assigned", with extack) is classified as exists', (t) => {
  const exec = new FakeExecutor().on(() => true, {
    status: 2,
    stderr: 'Error: ipv4: Address already assigned.\nCommand failed -:1\n',
  });
  t.is(
    t.throws(() => ipBatch(exec, [['addr', 'add', '10.0.0.1/24', 'dev', 'x']]), { instanceOf: ProcessError })?.kind,
    'exists',
  );
});

test('the sysctl script writes every pair, then runs the command after "--"; a failed write stops it', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cts-sysctl-'));
  try {
    const a = join(dir, 'a');
    const b = join(dir, 'b');
    // sysctlShellArgs maps names to /proc/sys paths; run its script with plain file paths instead
    const script = sysctlShellArgs([])[1]!;
    const ok = spawnSync('sh', ['-c', script, 'sh', a, '1', b, '0', '--', 'echo', 'ran'], { encoding: 'utf8' });
    t.is(ok.status, 0);
    t.is(ok.stdout, 'ran\n');
    t.is(readFileSync(a, 'utf8'), '1');
    t.is(readFileSync(b, 'utf8'), '0');
    const noCmd = spawnSync('sh', ['-c', script, 'sh', a, '7'], { encoding: 'utf8' });
    t.is(noCmd.status, 0);
    t.is(readFileSync(a, 'utf8'), '7');
    const bad = spawnSync('sh', ['-c', script, 'sh', join(dir, 'missing', 'x'), '1', '--', 'echo', 'never'], {
      encoding: 'utf8',
    });
    t.is(bad.status, 1);
    t.notRegex(bad.stdout, /never/);
    t.regex(bad.stderr, /cannot write sysctl .*missing\/x/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
