// loopback's two paths held to each other without root: the direct requests (an executor with an
// rtnetlink socket, here a fake kernel's lo answering as the kernel does) against the ip batches
// (a fake executor printing what `ip -j -batch` prints for the same kernel). Every scenario must end
// the same way on both — the same result, or the same CNI code, message and details — including the
// failures the real kernel is hard to make fail (a dump refused, an extended-ack message, the undo
// refused, a namespace gone between the probe and the open). test/integration/failures.test.ts does
// the same against the real kernel and the real tools.
import test from 'ava';
import { Builder, type Message, NetnsError, type Request, type Rtnl, RtnlError, messages } from '@cni-ts/process';
import { type Context, decodeNetConf } from '@cni-ts/skel';
import { FakeExecutor } from '@cni-ts/testutils';
import { type Result, toCniError } from '@cni-ts/types';
import { loopback } from '../src/index.js';

const NETNS = '/proc/self/ns/net';
const RTM_NEWLINK = 16;
const RTM_GETLINK = 18;
const RTM_NEWADDR = 20;
const RTM_GETADDR = 22;
const EPERM = 1;
const ENODEV = 19;
const EBUSY = 16;

interface Addr {
  family: 2 | 10;
  bytes: number[];
  len: number;
}
const V4: Addr = { family: 2, bytes: [127, 0, 0, 1], len: 8 };
const V6: Addr = { family: 10, bytes: [...Array(15).fill(0), 1], len: 128 };
const FOREIGN: Addr = { family: 2, bytes: [10, 9, 9, 9], len: 8 };
const FOREIGN6: Addr = { family: 10, bytes: [0xfd, 0, ...Array(13).fill(0), 5], len: 64 };

/** A request the fake kernel refuses: its type (and for RTM_NEWLINK, whether it sets lo up or down). */
interface Refusal {
  type: number;
  set?: 'up' | 'down';
  errno: number;
  extack?: string;
}

interface Scenario {
  command: 'ADD' | 'DEL' | 'CHECK';
  up: boolean;
  addrs: Addr[];
  refuse?: Refusal;
  /** The namespace cannot be entered: what nsenter (or its emulation) says. */
  unenterable?: { stderr: string };
  prevResult?: Result;
  /** The outcome both paths must reach: a result's addresses, or an error. */
  expect: { ips?: string[]; code?: number; msg?: string };
  /** lo's state afterwards (the direct path's fake kernel). */
  upAfter: boolean;
}

const text = (a: Addr) => (a.family === 2 ? a.bytes.join('.') : a === V6 ? '::1' : 'fd00::5');

// The kernel's lo, answering the requests loopback sends.
class FakeLo implements Rtnl {
  closed = false;
  constructor(readonly s: { up: boolean; addrs: Addr[]; refuse?: Refusal }) {}

  exchange(req: Request): Message[] {
    const view = new DataView(req.msg.buffer, req.msg.byteOffset, req.msg.byteLength);
    const type = view.getUint16(4, true);
    const seq = view.getUint32(8, true);
    const set = type === RTM_NEWLINK ? (view.getUint32(24, true) & 1 ? 'up' : 'down') : undefined;
    const r = this.s.refuse;
    if (r && r.type === type && (r.set === undefined || r.set === set)) throw new RtnlError(r.errno, r.extack);
    if (type === RTM_GETLINK) return messages(this.link(seq));
    if (type === RTM_NEWLINK) {
      this.s.up = set === 'up';
      return [];
    }
    if (type === RTM_GETADDR) {
      // a kernel without strict dump filtering also answers other links' addresses
      const all = [...this.shown().map((a) => this.addr(a, 1, seq)), this.addr(FOREIGN, 2, seq)];
      return all.flatMap((m) => messages(m));
    }
    throw new Error(`unexpected request type ${type}`);
  }

  talk(): void {
    throw new Error('not used');
  }

  close(): void {
    this.closed = true;
  }

  // IPv6 addresses leave a link that is down (no keep_addr_on_down on lo)
  shown(): Addr[] {
    return this.s.addrs.filter((a) => this.s.up || a.family === 2);
  }

  private link(seq: number): Uint8Array {
    const b = new Builder(RTM_NEWLINK, 0, seq);
    b.u8(0)
      .u8(0)
      .u16(772)
      .u32(1)
      .u32(this.s.up ? 0x10049 : 0x8)
      .u32(0);
    return b.attrString(3, 'lo').done();
  }

  private addr(a: Addr, index: number, seq: number): Uint8Array {
    const b = new Builder(RTM_NEWADDR, 2, seq);
    b.u8(a.family).u8(a.len).u8(0).u8(254).u32(index);
    b.attr(1, Uint8Array.from(a.bytes));
    if (a.family === 2) b.attr(2, Uint8Array.from(a.bytes));
    return b.done();
  }
}

// What `ip -j -batch` prints for the same kernel and the same refusal, batch by batch.
function ipFor(s: Scenario): FakeExecutor {
  const k = { up: s.up };
  const doc = (addrs: Addr[]) =>
    `${JSON.stringify([
      {
        ifindex: 1,
        ifname: 'lo',
        flags: k.up ? ['LOOPBACK', 'UP', 'LOWER_UP'] : ['LOOPBACK'],
        addr_info: addrs
          .filter((a) => k.up || a.family === 2)
          .map((a) => ({ family: a.family === 2 ? 'inet' : 'inet6', local: text(a), prefixlen: a.len })),
      },
    ])}\n`;
  const refusal = (r: Refusal) =>
    r.extack
      ? `Error: ${r.extack}.`
      : `RTNETLINK answers: ${{ 1: 'Operation not permitted', 16: 'Device or resource busy', 19: 'No such device' }[r.errno]}`;
  return new FakeExecutor().on(
    () => true,
    (call) => {
      if (s.unenterable) return { status: 1, stderr: s.unenterable.stderr };
      const lines = call.input.trim().split('\n');
      let stdout = '';
      for (let i = 0; i < lines.length; i++) {
        const [obj, verb, , arg] = lines[i]!.split(' ');
        const r = s.refuse;
        const fail = (line: string) => ({ status: 1, stdout, stderr: `${line}\nCommand failed -:${i + 1}\n` });
        if (r?.type === RTM_GETLINK && r.errno === ENODEV)
          return fail(verb === 'show' ? 'Device "lo" does not exist.' : 'Cannot find device "lo"');
        if (r?.type === RTM_GETLINK) return fail(refusal(r));
        if (verb === 'set') {
          if (r?.type === RTM_NEWLINK && (r.set === undefined || r.set === arg)) return fail(refusal(r));
          k.up = arg === 'up';
        } else if (obj === 'addr') {
          if (r?.type === RTM_GETADDR && i === 2) return fail(refusal(r));
          stdout += doc(s.addrs);
        } else stdout += doc([]);
      }
      return { stdout };
    },
  );
}

// An executor with an rtnetlink socket (the direct path), recording any process it is asked to start.
const withSocket = (rtnl: () => Rtnl) => Object.assign(new FakeExecutor(), { rtnl });

function ctx(exec: FakeExecutor, s: Scenario): Context {
  const stdin = JSON.stringify({ cniVersion: '1.0.0', name: 'lo-net', type: 'loopback' });
  return {
    command: s.command,
    stdin,
    conf: decodeNetConf(stdin),
    exec,
    log: () => {},
    env: {},
    args: { containerId: 'c1', netns: NETNS, ifname: 'eth0', args: '', path: [], netnsOverride: false },
    ...(s.prevResult ? { prevResult: s.prevResult } : {}),
  };
}

async function outcome(exec: FakeExecutor, s: Scenario): Promise<unknown> {
  const c = ctx(exec, s);
  try {
    if (s.command === 'ADD') return await loopback.add(c);
    if (s.command === 'DEL') return (await loopback.del(c)) ?? 'done';
    return (await loopback.check!(c)) ?? 'done';
  } catch (err) {
    // what skel prints for it
    const e = toCniError(err);
    return { code: e.code, msg: e.message, details: e.details };
  }
}

const scenario = (s: Partial<Scenario> & Pick<Scenario, 'command' | 'expect' | 'upAfter'>): Scenario => ({
  up: false,
  addrs: [V4, V6],
  ...s,
});

const SCENARIOS: Record<string, Scenario> = {
  'ADD of a fresh lo': scenario({ command: 'ADD', expect: { ips: ['127.0.0.1/8', '::1/128'] }, upAfter: true }),
  'ADD of a lo without IPv6': scenario({
    command: 'ADD',
    addrs: [V4],
    expect: { ips: ['127.0.0.1/8'] },
    upAfter: true,
  }),
  'ADD with a prevResult passes it on': scenario({
    command: 'ADD',
    prevResult: { cniVersion: '1.0.0', ips: [{ address: '10.1.0.4/24' }] },
    expect: { ips: ['10.1.0.4/24'] },
    upAfter: true,
  }),
  'ADD refused setting lo up (EPERM)': scenario({
    command: 'ADD',
    refuse: { type: RTM_NEWLINK, errno: EPERM },
    expect: { code: 999, msg: `ip link set lo up (in netns ${NETNS}): RTNETLINK answers: Operation not permitted` },
    upAfter: false,
  }),
  'ADD refused with an extended-ack message': scenario({
    command: 'ADD',
    refuse: { type: RTM_NEWLINK, errno: EPERM, extack: 'Not allowed here' },
    expect: { code: 999, msg: `ip link set lo up (in netns ${NETNS}): Error: Not allowed here.` },
    upAfter: false,
  }),
  'ADD whose address dump is refused as busy (code 11)': scenario({
    command: 'ADD',
    refuse: { type: RTM_GETADDR, errno: EBUSY },
    expect: { code: 11, msg: `ip addr show dev lo (in netns ${NETNS}): RTNETLINK answers: Device or resource busy` },
    upAfter: true,
  }),
  'ADD without a lo': scenario({
    command: 'ADD',
    refuse: { type: RTM_GETLINK, errno: ENODEV },
    expect: { code: 999, msg: `ip addr show dev lo (in netns ${NETNS}): Device "lo" does not exist.` },
    upAfter: false,
  }),
  'ADD of a lo with a foreign address: lo down again': scenario({
    command: 'ADD',
    addrs: [V4, FOREIGN, V6],
    expect: { code: 999, msg: 'loopback interface found with non-loopback address "10.9.9.9"' },
    upAfter: false,
  }),
  'ADD of a lo up already with a foreign IPv6 address: left up': scenario({
    command: 'ADD',
    up: true,
    addrs: [V4, V6, FOREIGN6],
    expect: { code: 999, msg: 'loopback interface found with non-loopback address "fd00::5"' },
    upAfter: true,
  }),
  'ADD of a lo with a foreign address whose undo is refused': scenario({
    command: 'ADD',
    addrs: [V4, FOREIGN],
    refuse: { type: RTM_NEWLINK, set: 'down', errno: EPERM },
    expect: { code: 999, msg: `ip link set lo down (in netns ${NETNS}): RTNETLINK answers: Operation not permitted` },
    upAfter: true,
  }),
  'ADD into a namespace that cannot be entered': scenario({
    command: 'ADD',
    unenterable: {
      stderr: "nsenter: reassociate to namespace 'ns/net' failed: Operation not permitted\n",
    },
    expect: {
      code: 999,
      msg: `ip -batch (in netns ${NETNS}): nsenter: reassociate to namespace 'ns/net' failed: Operation not permitted`,
    },
    upAfter: false,
  }),
  'DEL of a lo that is up': scenario({ command: 'DEL', up: true, expect: {}, upAfter: false }),
  'DEL refused setting lo down': scenario({
    command: 'DEL',
    up: true,
    refuse: { type: RTM_NEWLINK, errno: EPERM },
    expect: { code: 999, msg: `ip link set lo down (in netns ${NETNS}): RTNETLINK answers: Operation not permitted` },
    upAfter: true,
  }),
  'DEL without a lo': scenario({
    command: 'DEL',
    refuse: { type: RTM_GETLINK, errno: ENODEV },
    expect: { code: 999, msg: `ip link set lo down (in netns ${NETNS}): Cannot find device "lo"` },
    upAfter: false,
  }),
  'DEL of a sandbox gone between the probe and the open succeeds': scenario({
    command: 'DEL',
    up: true,
    unenterable: { stderr: `nsenter: cannot open ${NETNS}: No such file or directory\n` },
    expect: {},
    upAfter: true,
  }),
  'DEL into a namespace that cannot be entered': scenario({
    command: 'DEL',
    up: true,
    unenterable: { stderr: "nsenter: reassociate to namespace 'ns/net' failed: Invalid argument\n" },
    expect: {
      code: 999,
      msg: `ip -batch (in netns ${NETNS}): nsenter: reassociate to namespace 'ns/net' failed: Invalid argument`,
    },
    upAfter: true,
  }),
  'CHECK of a lo that is up': scenario({ command: 'CHECK', up: true, expect: {}, upAfter: true }),
  'CHECK of a lo that is down (code 100)': scenario({
    command: 'CHECK',
    expect: { code: 100, msg: 'loopback interface is down' },
    upAfter: false,
  }),
  'CHECK refused reading lo': scenario({
    command: 'CHECK',
    up: true,
    refuse: { type: RTM_GETLINK, errno: EPERM },
    expect: { code: 999, msg: `ip link show dev lo (in netns ${NETNS}): RTNETLINK answers: Operation not permitted` },
    upAfter: true,
  }),
};

for (const [name, s] of Object.entries(SCENARIOS)) {
  test(`both paths: ${name}`, async (t) => {
    const kernel = new FakeLo({ up: s.up, addrs: s.addrs, ...(s.refuse ? { refuse: s.refuse } : {}) });
    const direct = withSocket(() => {
      if (s.unenterable) throw new NetnsError('cannot enter', s.unenterable.stderr);
      return kernel;
    });
    const viaDirect = await outcome(direct, s);
    const viaIp = await outcome(ipFor(s), s);
    t.deepEqual(viaDirect, viaIp);
    t.deepEqual(direct.calls, [], 'the direct path starts no process');
    t.is(kernel.s.up, s.upAfter, "lo's state afterwards");
    t.is(kernel.closed, !s.unenterable, 'the socket is closed');
    if (viaDirect === 'done') return t.deepEqual(s.expect, {});
    const got = viaDirect as { code?: number; msg?: string; ips?: Array<{ address: string }> };
    if (s.expect.code !== undefined) t.deepEqual([got.code, got.msg], [s.expect.code, s.expect.msg]);
    else
      t.deepEqual(
        got.ips?.map((i) => i.address),
        s.expect.ips,
      );
  });
}

test('the comparison can fail: a refusal the batch does not see is a different outcome', async (t) => {
  const s = SCENARIOS['ADD refused setting lo up (EPERM)']!;
  const direct = withSocket(() => new FakeLo({ up: false, addrs: [V4, V6], refuse: s.refuse! }));
  t.notDeepEqual(await outcome(direct, s), await outcome(ipFor({ ...s, refuse: undefined } as Scenario), s));
});
