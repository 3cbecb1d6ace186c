// deferNfRelease: the nfnetlink sockets of transactions run under it stay open until its release
// (then they are closed), while what the transactions changed is in the kernel as soon as they
// return; without it each transaction's socket is closed before it returns. Run in Bun (the
// writer needs bun:ffi) in a user and network namespace of its own (`unshare -rn`: no root, the
// machine's rulesets untouched).
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const bun = fileURLToPath(new URL('../../../../node_modules/.bin/bun', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'cts-nfrel-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

const driver = join(dir, 'driver.mjs');
writeFileSync(
  driver,
  `import { readdirSync, readlinkSync } from 'node:fs';
import { deferNfRelease, systemExecutor as x } from ${JSON.stringify(new URL('../src/index.js', import.meta.url).href)};
const sockets = () => readdirSync('/proc/self/fd').filter((f) => { try { return readlinkSync('/proc/self/fd/' + f).startsWith('socket:'); } catch { return false; } }).length;
const exists = (c) => { let e; const o = x.nftTransaction('ip', 'nat', (r) => { e = r.chainExists(c); return []; }); return o?.ok ? e : undefined; };
const base = { hook: 4, priority: 100, type: 'nat', policy: 1 };
const out = {};
out.create = x.nftTransaction('ip', 'nat', () => [{ op: 'newTable' }, { op: 'newChain', chain: 'POSTROUTING', base }, { op: 'newChain', chain: 'A' }, { op: 'newChain', chain: 'B' }]);
const s0 = sockets();
out.plain = [x.nftTransaction('ip', 'nat', () => [{ op: 'delChain', chain: 'A' }]), sockets() - s0, exists('A')];
const release = deferNfRelease();
const inner = deferNfRelease();
out.held = [x.nftTransaction('ip', 'nat', () => [{ op: 'delChain', chain: 'B' }]), sockets() - s0];
inner();
out.afterInner = sockets() - s0;
out.goneWhileHeld = exists('B');
out.heldAfterRead = sockets() - s0;
release();
out.released = sockets() - s0;
release();
out.again = sockets() - s0;
process.stdout.write(JSON.stringify(out));
`,
);

test('sockets held until the release; the changes applied before it', (t) => {
  const r = spawnSync('unshare', ['-rn', '--', bun, driver], { encoding: 'utf8' });
  if (r.error || (r.status !== 0 && /unshare/.test(r.stderr))) {
    t.log(`no user namespaces here: ${r.error?.message ?? r.stderr}`);
    t.pass();
    return;
  }
  t.is(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  t.deepEqual(out.create, { ok: true });
  t.deepEqual(out.plain, [{ ok: true }, 0, false], 'no hold: the socket closed before the transaction returned');
  // the innermost hold takes the socket
  t.deepEqual(out.held, [{ ok: true }, 1]);
  t.is(out.afterInner, 0, "the inner hold's release closes its sockets");
  t.is(out.goneWhileHeld, false, 'the deletion is in the kernel');
  t.is(out.heldAfterRead, 1, 'after the inner release, the outer hold takes the next socket');
  t.is(out.released, 0);
  t.is(out.again, 0, 'a second release does nothing');
});
