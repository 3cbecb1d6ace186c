// netlink/uring.ts: an rtnetlink request handed to the kernel's io-wq through io_uring returns the
// kernel's answer from wait() (the ack after the work: the ifb is gone by then; ENODEV for a link
// that is not there), leaves no descriptor open after wait(), writes nothing through the run's
// file calls (the kernel sends it), and is undefined with CNI_TS_IO_URING=0 (nothing sent). And
// the typed path's delAsync: what del would answer, in del's words. Run in Bun (bun:ffi) in a user
// and network namespace of its own (`unshare -rn`: no root).
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const bun = fileURLToPath(new URL('../../../../node_modules/.bin/bun', import.meta.url));
const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const dir = mkdtempSync(join(tmpdir(), 'cts-uring-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));
const lib = (p: string) => JSON.stringify(new URL(p, import.meta.url).href);

const driver = join(dir, 'driver.mjs');
writeFileSync(
  driver,
  `import * as nodeFs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { useFs } from ${lib('../src/index.js')};
import { sendAsync } from ${lib('../src/netlink/uring.js')};
import { linkDelByName, netlinkDirect } from ${lib('../src/netlink/typed.js')};
let writes = 0;
useFs(() => ({ ...nodeFs, writeSync(fd, b, o, l) { writes++; return nodeFs.writeSync(fd, b, o, l); } }));
const sh = (...a) => spawnSync(a[0], a.slice(1), { encoding: 'utf8' });
// the descriptors now open: what each is (a socket's or the ring's inode)
const fds = () => new Set(nodeFs.readdirSync('/proc/self/fd').map((f) => { try { return nodeFs.readlinkSync('/proc/self/fd/' + f); } catch { return ''; } }).filter((l) => /^socket:|io_uring/.test(l)));
const ifbs = () => JSON.parse(sh('ip', '-j', 'link', 'show', 'type', 'ifb').stdout || '[]').map((l) => l.ifname);
const out = {};
sh('ip', 'link', 'add', 'ifbq1', 'type', 'ifb');
out.before = ifbs();
const fd0 = fds();
const w0 = writes;
const f = sendAsync(linkDelByName('ifbq1', 7).msg, 7);
out.submitted = f !== undefined;
const opened = [...fds()].filter((l) => !fd0.has(l));
out.opened = opened.map((l) => l.replace(/[0-9]+/, 'N')).sort();
out.answer = f.wait();
out.writes = writes - w0;
const left = fds();
out.left = opened.filter((l) => left.has(l));
out.after = ifbs();
out.again = sendAsync(linkDelByName('ifbq1', 8).msg, 8).wait();
sh('ip', 'link', 'add', 'ifbq2', 'type', 'ifb');
out.typed = netlinkDirect.delAsync('ifbq2').wait() ?? 'deleted';
out.typedGone = ifbs();
out.typedMissing = netlinkDirect.delAsync('ifbq2').wait();
out.syncMissing = netlinkDirect.del('ifbq2');
process.env.CNI_TS_IO_URING = '0';
sh('ip', 'link', 'add', 'ifbq3', 'type', 'ifb');
out.off = sendAsync(linkDelByName('ifbq3', 9).msg, 9);
out.offLeft = ifbs();
process.stdout.write(JSON.stringify(out));
`,
);

test('a request through io_uring: the kernel does it, wait() returns its answer, nothing left open; off with CNI_TS_IO_URING=0', (t) => {
  const r = spawnSync('unshare', ['-rn', '--', bun, driver], { encoding: 'utf8', env: { PATH: SYSTEM_PATH } });
  t.is(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  t.deepEqual(out.before, ['ifbq1']);
  t.true(out.submitted, 'io_uring is there on this kernel');
  t.deepEqual(out.answer, { errno: 0 });
  t.deepEqual(out.after, [], 'the ifb is gone when wait() returns');
  t.is(out.writes, 0, 'the kernel sent it, not the run');
  t.deepEqual(out.opened, ['anon_inode:[io_uring]', 'socket:[N]'], 'a ring and a socket while in flight');
  t.deepEqual(out.left, [], 'both closed by wait()');
  t.is(out.again.errno, 19, 'a link that is not there: ENODEV');
  t.is(out.typed, 'deleted');
  t.deepEqual(out.typedGone, []);
  t.deepEqual(out.typedMissing, out.syncMissing, "delAsync's failure is del's");
  t.regex(out.typedMissing.failure.stderr, /^Cannot find device "ifbq2"\nCommand failed -:1\n$/);
  t.is(out.off, undefined);
  t.deepEqual(out.offLeft, ['ifbq3'], 'nothing sent');
});
