// The requests netlink/direct.ts writes in place are the ones `ip` sends for the commands they
// stand for, byte for byte (sequence number and port id aside): `ip link set lo up|down` and the
// address dump of `ip -j addr show dev lo`, each traced with `strace -e write=3` in a fresh
// `unshare -rn` namespace. (The link lookup by name is netlink/commands.ts's linkByName, which the
// batch path already sends; ip adds an IFLA_EXT_MASK to it that neither path needs.)
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addrsByIndex } from '../src/netlink/commands.js';
import { linkUpRequest } from '../src/netlink/direct.js';
import { normal, written } from './strace.js';

const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const RTM_NEWLINK = 16;
const RTM_GETADDR = 22;
const LO = 1; // lo's index in every network namespace
const dir = mkdtempSync(join(tmpdir(), 'cts-direct-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

// ip's requests of one type for `args`, traced in a namespace of their own (its probe of the
// kernel's strict checking, an empty RTM_NEWLINK of index 0, aside)
function ipSends(args: string[], type: number): string[] {
  const trace = join(dir, `${args.join('-')}.trace`);
  const cmd = `strace -qq -f -e trace=sendmsg,sendto -e write=3 -o ${trace} ip ${args.join(' ')} > /dev/null`;
  const r = spawnSync('unshare', ['-rn', '--', 'sh', '-c', cmd], { encoding: 'utf8', env: { PATH: SYSTEM_PATH } });
  if (r.status !== 0) throw new Error(`strace ip (strace comes with tools/setup-debian.sh): ${r.stderr}`);
  // a datagram's first message (strace dumps the whole buffer handed to the kernel)
  return written(readFileSync(trace, 'utf8'))
    .map((b) => b.slice(0, new DataView(b.buffer).getUint32(0, true)))
    .filter(
      (m) => new DataView(m.buffer).getUint16(4, true) === type && new DataView(m.buffer).getUint32(20, true) !== 0,
    )
    .map(normal);
}

for (const verb of ['up', 'down'] as const) {
  test(`lo set ${verb}: the RTM_NEWLINK of \`ip link set lo ${verb}\``, (t) => {
    t.deepEqual(ipSends(['link', 'set', 'lo', verb], RTM_NEWLINK), [normal(linkUpRequest(LO, verb === 'up', 7).msg)]);
  });
}

test('lo’s addresses: the RTM_GETADDR dump of `ip -j addr show dev lo`', (t) => {
  t.deepEqual(ipSends(['-j', 'addr', 'show', 'dev', 'lo'], RTM_GETADDR), [normal(addrsByIndex(LO, 7).msg)]);
});

test('the comparison can fail: up and down are different requests', (t) => {
  t.not(normal(linkUpRequest(LO, true, 1).msg), normal(linkUpRequest(LO, false, 1).msg));
});
