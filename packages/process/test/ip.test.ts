// ipBatch, tcBatch and the error plumbing against the real tools, each batch in a fresh empty
// netns (scratchExecutor): failures carry the failing command and the error kind as data.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ProcessError,
  cniCodeOf,
  ipBatch,
  ipJson,
  isKind,
  isMissing,
  runChecked,
  sysctlPath,
  sysctlShellArgs,
  systemExecutor,
  tcBatch,
} from '../src/index.js';
import { scratchExecutor, thrown } from './scratch.js';

test('ipBatch returns the JSON each showing command printed, in order, from one process', (t) => {
  const docs = ipBatch(scratchExecutor, [
    ['link', 'show', 'dev', 'lo'],
    ['link', 'set', 'dev', 'lo', 'up'],
    ['addr', 'show', 'dev', 'lo'],
  ]) as Array<Array<{ ifname: string; flags: string[] }>>;
  t.is(docs.length, 2);
  t.false(docs[0]![0]!.flags.includes('UP'));
  t.true(docs[1]![0]!.flags.includes('UP'), 'the second show saw the link set up by the same process');
  t.deepEqual(ipJson(scratchExecutor, ['link', 'show', 'dev', 'lo']), [docs[0]![0]]);
  t.deepEqual(ipBatch(scratchExecutor, []), []);
});

test('a failing batch says which command failed (index and arguments) and what is missing', (t) => {
  const cmds = [
    ['link', 'set', 'dev', 'lo', 'up'],
    ['addr', 'show', 'dev', 'lo'],
    ['link', 'set', 'dev', 'nosuch0', 'up'],
    ['link', 'set', 'dev', 'lo', 'down'],
  ];
  const e = thrown(() => ipBatch(scratchExecutor, cmds)) as ProcessError;
  t.true(e instanceof ProcessError);
  t.is(e.kind, 'missing');
  t.is(e.object, 'nosuch0');
  t.true(isMissing(e, 'nosuch0'));
  t.false(isMissing(e, 'lo'), 'missing names the object the tool named, nothing else');
  t.deepEqual(e.failed, { index: 2, args: cmds[2] });
  t.is(e.message, 'ip link set dev nosuch0 up: Cannot find device "nosuch0"');
});

test('exists and unsupported are kinds; the failing line is the second of two identical commands', (t) => {
  const add = ['addr', 'add', '10.9.0.1/24', 'dev', 'lo'];
  const e = thrown(() => ipBatch(scratchExecutor, [add, add])) as ProcessError;
  t.is(e.kind, 'exists');
  t.deepEqual(e.failed, { index: 1, args: add });
  const u = thrown(() =>
    ipBatch(scratchExecutor, [['link', 'set', 'dev', 'lo', 'type', 'bridge_slave', 'hairpin', 'on']]),
  ) as ProcessError;
  t.is(u.kind, 'unsupported');
  t.is(u.failed?.index, 0);
});

test('an error that names no missing object is not "missing" (it would be swallowed by DEL)', (t) => {
  const e = thrown(() => ipBatch(scratchExecutor, [['route', 'add', '10.0.0.0/8', 'via', '10.99.0.1']]));
  t.true(isKind(e, 'failed'), String(e));
  const n = thrown(() => runChecked(systemExecutor, 'nsenter', ['--net=/nonexistent/cts-ns', '--', 'true']));
  t.true(isMissing(n, '/nonexistent/cts-ns'), 'nsenter names the netns path it could not open');
  const nf = thrown(() => systemExecutor.run('cts-no-such-tool', []));
  t.true(isKind(nf, 'not-found'));
});

test('tcBatch runs one tc -batch process and returns its JSON documents', (t) => {
  // a fresh netns's lo is down without a qdisc; the same process then adds one and shows it
  const docs = tcBatch(
    scratchExecutor,
    [
      ['qdisc', 'show', 'dev', 'lo'],
      [
        'qdisc',
        'add',
        'dev',
        'lo',
        'root',
        'handle',
        '1:',
        'tbf',
        'rate',
        '1mbit',
        'burst',
        '32kbit',
        'latency',
        '400ms',
      ],
      ['qdisc', 'show', 'dev', 'lo'],
    ],
    { options: ['-j'] },
  ) as Array<Array<{ kind: string }>>;
  t.is(docs.length, 2);
  t.deepEqual(docs[0], []);
  t.is(docs[1]![0]!.kind, 'tbf');
  const e = thrown(() =>
    tcBatch(scratchExecutor, [
      ['qdisc', 'show', 'dev', 'lo'],
      ['qdisc', 'show', 'dev', 'nosuch1'],
    ]),
  );
  t.true(isMissing(e, 'nosuch1'));
  t.deepEqual((e as ProcessError).failed, { index: 1, args: ['qdisc', 'show', 'dev', 'nosuch1'] });
});

test('a hung tool is killed at its timeout and reported as try-again (code 11), not left hanging', (t) => {
  const start = Date.now();
  const e = thrown(() => systemExecutor.run('sleep', ['30'], { timeoutMs: 300 })) as ProcessError;
  t.true(Date.now() - start < 5000);
  t.is(e.kind, 'timeout');
  t.is(e.cniCode, 11);
  t.regex(e.message, /did not finish within 0\.3 s/);
});

test('one mapping from kind to CNI code: busy and timeout are 11, the rest have none (999)', (t) => {
  t.is(cniCodeOf('busy'), 11);
  t.is(cniCodeOf('timeout'), 11);
  for (const k of ['not-found', 'exists', 'missing', 'unsupported', 'failed'] as const) t.is(cniCodeOf(k), undefined);
  t.is(new ProcessError('busy', 'x', 'x').cniCode, 11);
  t.is(new ProcessError('failed', 'x', 'x').cniCode, undefined);
});

test('sysctls and the batch run in one process, in order: the batch sees the value written', (t) => {
  const docs = ipBatch(scratchExecutor, [['netconf', 'show', 'dev', 'lo']], {
    netns: '/proc/self/ns/net',
    sysctls: [['net.ipv4.conf.lo.forwarding', '1']],
  }) as Array<Array<{ family: string; forwarding: boolean }>>;
  t.true(docs[0]!.find((d) => d.family === 'inet')!.forwarding);
  const e = thrown(() =>
    ipBatch(scratchExecutor, [['link', 'show']], { netns: '/proc/self/ns/net', sysctls: [['net/nosuch/x', '1']] }),
  ) as ProcessError;
  t.regex(e.message, /^sysctl \/proc\/sys\/net\/nosuch\/x \(in netns \/proc\/self\/ns\/net\): /);
  t.is(e.failed, undefined, 'a sysctl failure is no batch line');
});

test('sysctl names: dotted names swap dots and slashes, slash names are kept', (t) => {
  t.is(sysctlPath('net.ipv4.ip_forward'), '/proc/sys/net/ipv4/ip_forward');
  t.is(sysctlPath('net/ipv4/conf/cni0.100/forwarding'), '/proc/sys/net/ipv4/conf/cni0.100/forwarding');
  t.is(sysctlPath('net.ipv4.conf.cni0/100.forwarding'), '/proc/sys/net/ipv4/conf/cni0.100/forwarding');
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
