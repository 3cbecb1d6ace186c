// The `cni-ts` CLI, built (dist/bin/cni-ts), run as an operator would inside a node netns:
// add/check/del with cnitool's environment, --json, inspect finding nothing, then the leaks a
// vanished pod leaves, gc removing them, and errors with their CNI codes.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Netns, SYSTEM_PATH, TestNode, binDir, goPluginDir, rootTest, uniquePrefix } from '@cni-ts/testutils';
import anyTest, { type TestFn } from 'ava';
import { execa } from 'execa';

const test = rootTest(anyTest as TestFn<Ctx>, 'cni-ts CLI');

interface Ctx {
  node: TestNode;
  dir: string;
  env: Record<string, string>;
  cli: (args: string[], env?: Record<string, string>) => Promise<{ code: number; out: string; err: string }>;
}

test.before(async (t) => {
  const prefix = uniquePrefix('cli');
  const node = await TestNode.create(prefix);
  const dir = `/tmp/${prefix}`;
  const conf = join(dir, 'conf');
  mkdirSync(conf, { recursive: true });
  writeFileSync(
    join(conf, '10-clitest.conflist'),
    JSON.stringify({
      cniVersion: '1.0.0',
      name: 'clitest',
      plugins: [
        {
          type: 'bridge',
          bridge: `${prefix.slice(0, 10)}b`,
          isGateway: true,
          ipMasq: true,
          ipam: { type: 'host-local', dataDir: join(dir, 'ipam'), ranges: [[{ subnet: '10.93.0.0/24' }]] },
        },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    }),
  );
  const env = { PATH: SYSTEM_PATH, NETCONFPATH: conf, CNI_PATH: `${binDir}:${goPluginDir}` };
  const cli = async (args: string[], extra: Record<string, string> = {}) => {
    const r = await execa(
      'ip',
      ['netns', 'exec', node.node.name, join(binDir, 'cni-ts'), ...args, '--cache-dir', join(dir, 'cache')],
      { env: { ...env, ...extra }, extendEnv: false, reject: false },
    );
    return { code: r.exitCode ?? -1, out: r.stdout, err: r.stderr };
  };
  t.context = { node, dir, env, cli };
});

test.after.always(async (t) => {
  await t.context.node?.destroy();
  if (t.context.dir) await execa('rm', ['-rf', t.context.dir]);
});

async function inspect(t: { context: Ctx }): Promise<any> {
  const r = await t.context.cli(['inspect', '--json', '--data-dir', join(t.context.dir, 'ipam')]);
  return JSON.parse(r.out);
}

test.serial(
  'add shows the attachment as tables, --json prints the result as cnitool; inspect finds every piece owned',
  async (t) => {
    const { node, cli } = t.context;
    const pod1 = await node.addPod('p1');
    const pod2 = await node.addPod('p2');
    const caps = { CAP_ARGS: '{"portMappings":[{"hostPort":18080,"containerPort":80,"protocol":"tcp"}]}' };
    const a1 = await cli(['add', 'clitest', pod1.path], { ...caps, CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAME=p1' });
    t.is(a1.code, 0, a1.err);
    t.regex(a1.out, /^network clitest \(cniVersion 1\.0\.0\) · container cnitool-[0-9a-f]{20} · eth0 in /);
    t.regex(a1.out, /\nADDRESS\s+GATEWAY\s+INTERFACE\n10\.93\.0\.2\/24\s+10\.93\.0\.1\s+eth0\n/);
    t.regex(a1.out, /\nHOST PORT\s+CONTAINER PORT\s+PROTOCOL\n\*:18080\s+80\s+tcp/);
    const addrs = await pod1.ipJson(['addr', 'show', 'dev', 'eth0']);
    t.true(JSON.stringify(addrs).includes('10.93.0.2'), 'the address is really on the pod');

    const a2 = await cli(['add', 'clitest', pod2.path, '--json']);
    t.is(a2.code, 0, a2.err);
    const r2 = JSON.parse(a2.out);
    t.like(r2, { cniVersion: '1.0.0', ips: [{ address: '10.93.0.3/24', gateway: '10.93.0.1', interface: 2 }] });
    t.true(a2.out.startsWith('{\n    "cniVersion"'), "indented as cnitool's result.Print()");

    t.is((await cli(['check', 'clitest', pod2.path])).code, 0);
    t.is((await cli(['status', 'clitest'])).code, 0);
    const report = await inspect(t);
    t.is(report.leaks, 0, JSON.stringify(report.findings.filter((f: any) => f.leak)));
    const kinds = report.findings.map((f: any) => f.kind).sort();
    t.deepEqual(kinds, ['attachment', 'attachment', 'iptables', 'iptables', 'iptables', 'reservation', 'reservation']);
  },
);

test.serial(
  'a pod whose netns vanished without DEL shows up as leaks; gc removes them and keeps the live pod',
  async (t) => {
    const { node, cli } = t.context;
    const pod2 = node.pods.find((p: Netns) => p.name.endsWith('-p2'));
    if (!pod2) return t.fail('the previous test made the pods');
    await node.removePod(pod2);
    const r = await cli(['inspect', '--check', '--data-dir', join(t.context.dir, 'ipam')]);
    t.is(r.code, 1, '--check fails on leaks');
    t.regex(r.out, /LEAK +\/run\/netns\/\S+-p2 10\.93\.0\.3\/24 +clitest\/cnitool-/);
    t.regex(r.out, /LEAK +10\.93\.0\.3 in /);
    t.regex(r.out, /LEAK +iptables nat CNI-[0-9a-f]{24} \(masquerade\) +clitest\/cnitool-/);
    const before = await inspect(t);
    t.deepEqual(
      before.findings.filter((f: any) => f.leak).map((f: any) => f.kind),
      ['attachment', 'reservation', 'iptables'],
      'the stale attachment, its address and its masquerade chain (it had no port mapping)',
    );
    const gc = await cli(['gc', 'clitest']);
    t.is(gc.code, 0, gc.err);
    t.regex(gc.out, /GC kept 1 attachment\(s\), removed 1 stale one\(s\)/);
    const after = await inspect(t);
    t.is(after.leaks, 0, JSON.stringify(after.findings));
    t.is(after.findings.filter((f: any) => f.kind === 'attachment').length, 1);
  },
);

test.serial('del removes the last pod and leaves nothing to inspect', async (t) => {
  const { node, cli } = t.context;
  const pod1 = node.pods.find((p: Netns) => p.name.endsWith('-p1'));
  if (!pod1) return t.fail('the first test made the pods');
  const d = await cli(['del', 'clitest', pod1.path], {
    CAP_ARGS: '{"portMappings":[{"hostPort":18080,"containerPort":80,"protocol":"tcp"}]}',
  });
  t.is(d.code, 0, d.err);
  const report = await inspect(t);
  t.deepEqual(report.findings, []);
  t.regex((await cli(['inspect'])).out, /no leaks/);
});

test.serial(
  'add asks every plugin for its versions first, and DELs after a failed ADD so nothing is left',
  async (t) => {
    const { node, cli, dir } = t.context;
    const pod = await node.addPod('p3');
    const conf = join(dir, 'conf2');
    mkdirSync(conf, { recursive: true });
    const bridge = {
      type: 'bridge',
      bridge: `${node.prefix.slice(0, 10)}c`,
      ipam: { type: 'host-local', dataDir: join(dir, 'ipam2'), ranges: [[{ subnet: '10.95.0.0/24' }]] },
    };
    // Debian's Go tuning speaks up to 1.0.0
    writeFileSync(
      join(conf, 'a.conflist'),
      JSON.stringify({ cniVersion: '1.1.0', name: 'newer', plugins: [bridge, { type: 'tuning' }] }),
    );
    writeFileSync(
      join(conf, 'b.conflist'),
      JSON.stringify({
        cniVersion: '1.0.0',
        name: 'fails',
        plugins: [bridge, { type: 'portmap', capabilities: { portMappings: true } }],
      }),
    );
    const v = await cli(['add', 'newer', pod.path], { NETCONFPATH: conf });
    t.is(v.code, 1);
    t.regex(
      v.err,
      /plugin tuning \(\/usr\/lib\/cni\/tuning\) does not support cniVersion 1\.1\.0; it supports .*1\.0\.0/,
    );
    const f = await cli(['add', 'fails', pod.path], {
      NETCONFPATH: conf,
      CAP_ARGS: '{"portMappings":[{"hostPort":0,"containerPort":80,"protocol":"tcp"}]}',
    });
    t.is(f.code, 1);
    t.regex(f.err, /plugin type="portmap" failed \(add\)/);
    const links = await pod.ipJson(['link', 'show']);
    t.deepEqual(
      links.map((l: { ifname: string }) => l.ifname),
      ['lo'],
      'the DEL after the failed ADD removed the pod interface',
    );
    const report = JSON.parse(
      (await cli(['inspect', '--json', '--data-dir', join(dir, 'ipam2')], { NETCONFPATH: conf })).out,
    );
    t.deepEqual(report.findings, [], 'no reservation, chain or cache entry left');
  },
);

test('errors: an unknown network, a bad interface name (code 4) and a bad CNI_ARGS, for people and for scripts', async (t) => {
  const { cli } = t.context;
  const missing = await cli(['add', 'nosuch', '/run/netns/none']);
  t.is(missing.code, 1);
  t.regex(missing.err, /^cni-ts add: no net configuration with name "nosuch" in /);
  const bad = await cli(['add', 'clitest', '/run/netns/none', '-i', 'a:b', '--json']);
  t.is(bad.code, 1);
  const e = JSON.parse(bad.out);
  t.is(e.code, 4);
  t.regex(e.msg, /interface name contains \/ or : or whitespace/);
  const args = await cli(['add', 'clitest', '/run/netns/none'], { CNI_ARGS: 'novalue' });
  t.is(args.code, 2);
  t.regex(args.err, /invalid CNI_ARGS pair "novalue"/);
  const usage = await cli([]);
  t.is(usage.code, 1, 'no command: the usage, as cnitool');
  t.regex(usage.err, /cni-ts add +<network> <netns>/);
});
