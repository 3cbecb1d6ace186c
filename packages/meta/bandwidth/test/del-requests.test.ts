// What a DEL asks the kernel on the typed rtnetlink path (Bun, bun:ffi): every netlink request it
// writes, recorded through the run's file calls (useFs), on the real kernel in a fresh `unshare -rn`
// namespace playing the node with a pod in a nested one. After the plugin's own ADD (both ways), a
// DEL looks the host veth up by name once and the ifb at most once (by the index the veth's
// redirect names), deletes the ifb with one RTM_DELLINK naming it (no lookup first), and leaves
// nothing on the veth and no ifb, without reading any qdisc (the root delete names our tbf 1:, which
// the kernel checks; the ingress side comes from the veth's own filters); the same with the Go
// plugin's filter (two redirects to the ifb); someone else's root qdisc (pfifo 1:, tbf 5:) stays;
// a second DEL succeeds and looks nothing up but the veth. A veth index handed to the tc deletes
// that is gone fails as tc's own lookup would ("Cannot find device": DEL takes it as missing).
// Each with CNI_TS_IO_URING=0 (every request written by the run) and with the ifb's RTM_DELLINK
// handed to the kernel's io-wq through io_uring (then no run's write carries it, and the ifb is gone).
import anyTest from 'ava';
import { runInUserNetns, userNetnsTest } from '@cni-ts/testutils';

const lib = (p: string) => JSON.stringify(new URL(p, import.meta.url).href);
const test = userNetnsTest(anyTest, import.meta.url, ['tc', 'qdisc', 'show']);

const DRIVER = `import { spawn, spawnSync } from 'node:child_process';
import * as nodeFs from 'node:fs';
import { systemExecutor, useFs } from ${lib('../../../../process/dist/src/index.js')};
import { makeBandwidth, ifbName } from ${lib('../src/index.js')};
import { context } from ${lib('./helpers.js')};
const { uring, seccomp } = JSON.parse(process.argv[2]);
process.env.CNI_TS_IO_URING = uring ? '1' : '0';
if (seccomp) {
  // a seccomp profile that refuses io_uring_setup with this errno (as container runtimes' default
  // profiles do), on every thread (TSYNC); everything else allowed
  const { dlopen, ptr } = await import('bun:ffi');
  const { symbols: c } = dlopen('libc.so.6', {
    prctl: { args: ['i32', 'u64', 'u64', 'u64', 'u64'], returns: 'i32' },
    syscall: { args: ['i64', 'i64', 'i64', 'ptr'], returns: 'i64' },
  });
  const insns = [[0x20, 0, 0, 0], [0x15, 0, 1, 425], [0x06, 0, 0, 0x50000 | seccomp], [0x06, 0, 0, 0x7fff0000]];
  const filter = new Uint8Array(8 * insns.length);
  const fv = new DataView(filter.buffer);
  insns.forEach(([code, jt, jf, k], i) => { fv.setUint16(8 * i, code, true); fv.setUint8(8 * i + 2, jt); fv.setUint8(8 * i + 3, jf); fv.setUint32(8 * i + 4, k, true); });
  const prog = new Uint8Array(16);
  const pv = new DataView(prog.buffer);
  pv.setUint16(0, insns.length, true);
  pv.setBigUint64(8, BigInt(ptr(filter)), true);
  if (c.prctl(38, 1, 0, 0, 0) !== 0) throw new Error('PR_SET_NO_NEW_PRIVS');
  if (Number(c.syscall(process.arch === 'arm64' ? 277 : 317, 1, 1, prog)) !== 0) throw new Error('seccomp');
}
const own = nodeFs.readlinkSync('/proc/self/ns/net');
const holder = spawn('unshare', ['-n', '--', 'sleep', '60'], { stdio: 'ignore' });
const ns = '/proc/' + holder.pid + '/ns/net';
const entered = () => { try { return nodeFs.readlinkSync(ns) !== own; } catch { return false; } };
for (let i = 0; !entered(); i++) { if (i > 5000) throw new Error('no pod netns'); Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1); }
const sh = (args) => { const r = spawnSync(args[0], args.slice(1), { encoding: 'utf8' }); if (r.status !== 0) throw new Error(args.join(' ') + ': ' + r.stderr); return r.stdout; };
const json = (args) => JSON.parse(sh(args) || '[]');
// every netlink message the run writes: type, the index and the name (IFLA_IFNAME) or kind (TCA_KIND) it carries
let log;
const text = (v, off, len) => new TextDecoder().decode(new Uint8Array(v.buffer, v.byteOffset + off, len)).replace(/\\0+$/, '');
useFs(() => ({
  ...nodeFs,
  writeSync(fd, buf, off, len) {
    const v = new DataView(buf.buffer, buf.byteOffset + off, len);
    if (log && len >= 20 && v.getUint32(0, true) === len) {
      const type = v.getUint16(4, true);
      const tc = type >= 36;
      const m = { type, index: v.getInt32(20, true) };
      if (tc) { m.handle = v.getUint32(24, true).toString(16); m.parent = v.getUint32(28, true).toString(16); }
      for (let a = tc ? 36 : 32; a + 4 <= len; a += (v.getUint16(a, true) + 3) & ~3) {
        const alen = v.getUint16(a, true);
        if (alen < 4) break;
        const at = v.getUint16(a + 2, true);
        if (!tc && at === 3) m.name = text(v, a + 4, alen - 4);
        if (tc && at === 1) m.kind = text(v, a + 4, alen - 4);
      }
      log.push(m);
    }
    return nodeFs.writeSync(fd, buf, off, len);
  },
}));
// the node's view of a link, as sysfs would show it in the node (this namespace has the root's sysfs)
const host = {
  linkNames: () => new Set(json(['ip', '-j', 'link', 'show']).map((l) => l.ifname)),
  readLinkAttr(name, attr) {
    const r = spawnSync('ip', ['-j', 'link', 'show', 'dev', name], { encoding: 'utf8' });
    const [l] = r.status === 0 ? JSON.parse(r.stdout) : [];
    if (!l) return undefined;
    return String({ ifindex: l.ifindex, iflink: l.link_index, mtu: l.mtu, address: l.address }[attr] ?? '');
  },
};
try {
  sh(['ip', 'link', 'add', 'vethB', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
  sh(['ip', 'link', 'set', 'vethB', 'up']);
  const plugin = makeBandwidth(host);
  const prevResult = { cniVersion: '1.0.0', interfaces: [{ name: 'cni0' }, { name: 'vethB' }, { name: 'eth0', sandbox: ns }] };
  const conf = { runtimeConfig: { bandwidth: { ingressRate: 1e6, ingressBurst: 8e4, egressRate: 2e6, egressBurst: 16e4 } }, prevResult };
  const ifb = ifbName('bwnet', 'c1');
  const index = (name) => json(['ip', '-j', 'link', 'show', 'dev', name])[0].ifindex;
  const state = () => ({
    qdiscs: json(['tc', '-j', 'qdisc', 'show', 'dev', 'vethB']).map((q) => q.kind + ' ' + q.handle),
    ifbs: json(['ip', '-j', 'link', 'show', 'type', 'ifb']).map((l) => l.ifname),
  });
  const del = async () => {
    log = [];
    let error;
    try { await plugin.del(context(systemExecutor, conf, { command: 'DEL', netns: ns })); } catch (e) { error = e.message; }
    const out = { error, requests: log };
    log = undefined;
    return { ...out, after: state() };
  };
  const out = {};
  await plugin.add(context(systemExecutor, conf, { netns: ns }));
  out.veth = index('vethB');
  out.ifb = { name: ifb, index: index(ifb) };
  out.shaped = state();
  out.first = await del();
  out.second = await del();
  // the Go plugin's filter: two redirects to the ifb
  await plugin.add(context(systemExecutor, conf, { netns: ns }));
  out.goIfb = index(ifb);
  sh(['tc', 'filter', 'del', 'dev', 'vethB', 'parent', 'ffff:', 'prio', '1']);
  const redirect = ['action', 'mirred', 'egress', 'redirect', 'dev', ifb];
  sh(['tc', 'filter', 'add', 'dev', 'vethB', 'parent', 'ffff:', 'protocol', 'all', 'prio', '1', 'u32', 'match', 'u32', '0', '0', 'flowid', '1:1', ...redirect, ...redirect]);
  out.goFilter = json(['tc', '-j', 'filter', 'show', 'dev', 'vethB', 'parent', 'ffff:']).find((f) => f.options?.actions)?.options.actions.length;
  out.go = await del();
  // someone else's root qdisc on the veth (a pfifo with our handle, then a tbf with another): it stays
  out.foreign = [];
  for (const root of [['handle', '1:', 'pfifo'], ['handle', '5:', 'tbf', 'rate', '1mbit', 'burst', '10k', 'latency', '10ms']]) {
    await plugin.add(context(systemExecutor, { ...conf, runtimeConfig: { bandwidth: { egressRate: 2e6, egressBurst: 16e4 } } }, { netns: ns }));
    sh(['tc', 'qdisc', 'add', 'dev', 'vethB', 'root', ...root]);
    out.foreign.push(await del());
    sh(['tc', 'qdisc', 'del', 'dev', 'vethB', 'root']);
  }
  // a device whose index the caller gave is gone: the failure tc's own lookup would report
  out.goneIndex = systemExecutor.typedNetlink().tc([['qdisc', 'del', 'dev', 'vethB', 'root', 'handle', '1:']], false, new Map([['vethB', 999999]]));
  process.stdout.write(JSON.stringify(out));
} finally {
  holder.kill();
}
`;

const RTM_DELLINK = 17;
const RTM_GETLINK = 18;
const RTM_DELQDISC = 37;
const RTM_GETQDISC = 38;

interface Request {
  type: number;
  index: number;
  name?: string;
  kind?: string;
  handle?: string;
  parent?: string;
}
interface Del {
  error?: string;
  requests: Request[];
  after: { qdiscs: string[]; ifbs: string[] };
}
interface Out {
  veth: number;
  ifb: { name: string; index: number };
  goIfb: number;
  shaped: { qdiscs: string[]; ifbs: string[] };
  first: Del;
  second: Del;
  goFilter: number;
  go: Del;
  goneIndex: unknown;
  foreign: Del[];
}

const CLEAN = { qdiscs: ['noqueue 0:'], ifbs: [] };

// io_uring off; on; on but refused by a seccomp profile (EPERM, ENOSYS): then DEL writes the
// RTM_DELLINK itself, as with io_uring off
const MODES: Array<[string, { uring: boolean; seccomp?: number }]> = [
  ['', { uring: false }],
  [': the ifb deleted through io_uring', { uring: true }],
  [': io_uring refused by seccomp (EPERM), the ifb deleted by our own write', { uring: true, seccomp: 1 }],
  [': io_uring refused by seccomp (ENOSYS), the ifb deleted by our own write', { uring: true, seccomp: 38 }],
];
for (const [what, mode] of MODES)
  test(`DEL looks the veth up once and the ifb at most once, deletes the ifb by name, and cleans (ours, Go's filter, a second time)${what}`, (t) => {
    const out = runInUserNetns<Out>(t, DRIVER, { input: mode });
    const uring = mode.uring && !mode.seccomp;
    t.deepEqual(out.shaped.ifbs, [out.ifb.name], 'ADD made the ifb');
    t.true(out.shaped.qdiscs.includes('tbf 1:') && out.shaped.qdiscs.includes('ingress ffff:'), 'and shaped the veth');
    t.is(out.goFilter, 2, 'the Go-like filter has two redirects');
    const lookups = (d: Del, what: (r: Request) => boolean) =>
      d.requests.filter((r) => r.type === RTM_GETLINK && what(r)).length;
    for (const [which, d, ifbIndex] of [
      ['first', out.first, out.ifb.index],
      ["Go's filter", out.go, out.goIfb],
    ] as const) {
      t.is(d.error, undefined, which);
      t.deepEqual(d.after, CLEAN, `${which}: nothing left on the veth, no ifb`);
      t.is(
        lookups(d, (r) => r.name === 'vethB' || r.index === out.veth),
        1,
        `${which}: the veth looked up once`,
      );
      t.true(lookups(d, (r) => r.name === out.ifb.name || r.index === ifbIndex) <= 1, `${which}: the ifb at most once`);
      t.deepEqual(
        d.requests.filter((r) => r.type === RTM_DELLINK),
        // through io_uring the kernel's io-wq sends it, not the run's file calls
        uring ? [] : [{ type: RTM_DELLINK, index: 0, name: out.ifb.name }],
        `${which}: one RTM_DELLINK, naming the ifb`,
      );
    }
    for (const d of [out.first, out.go, out.second, ...out.foreign])
      t.is(
        d.requests.filter((r) => r.type === RTM_GETQDISC).length,
        0,
        'no qdisc is read (a dump is of every qdisc of the node)',
      );
    // the root delete names our tbf 1: (the kernel deletes only that), the ingress delete its kind
    t.deepEqual(
      out.first.requests.filter((r) => r.type === RTM_DELQDISC),
      [
        { type: RTM_DELQDISC, index: out.veth, handle: '10000', parent: 'ffffffff', kind: 'tbf' },
        { type: RTM_DELQDISC, index: out.veth, handle: 'ffff0000', parent: 'fffffff1', kind: 'ingress' },
      ],
    );
    t.deepEqual(
      out.foreign.map((d) => ({ error: d.error, after: d.after })),
      [
        { error: undefined, after: { qdiscs: ['pfifo 1:'], ifbs: [] } },
        { error: undefined, after: { qdiscs: ['tbf 5:'], ifbs: [] } },
      ],
      "someone else's root qdisc stays; our ingress qdisc and ifb go",
    );
    t.is(out.second.error, undefined);
    t.deepEqual(out.second.after, CLEAN);
    t.is(
      lookups(out.second, (r) => r.name === out.ifb.name),
      0,
      'a second DEL does not look for the ifb',
    );
    t.is(
      out.second.requests.filter((r) => r.type === RTM_DELLINK).length,
      uring ? 0 : 1,
      'it asks to delete it (ENODEV is fine)',
    );
    t.deepEqual(out.goneIndex, { failure: { stderr: 'Cannot find device "vethB"\nCommand failed -:1\n', status: 1 } });
  });
