// Sysctls through rtnetlink (netlink/devconf.ts) against /proc/sys on the real kernel, in a fresh
// user+network namespace (`unshare -rn`, no root): every name readSysctls reads must read what
// /proc/sys shows, before and after the values are changed through /proc/sys; every IPv4 setting
// written through IFLA_INET_CONF must change that file of /proc/sys and no other file of the
// interface's ipv4 or ipv6 conf directory.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const bun = fileURLToPath(new URL('../../../../node_modules/.bin/bun', import.meta.url));
const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const dir = mkdtempSync(join(tmpdir(), 'cts-devconf-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

const src = (f: string) => JSON.stringify(new URL(`../src/${f}`, import.meta.url).href);
const driver = join(dir, 'driver.mjs');
writeFileSync(
  driver,
  `import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { readSysctls, INET_CONF_WRITABLE } from ${src('netlink/devconf.js')};
import { netlinkBatch } from ${src('netlink/batch.js')};
import { openRtnl } from ${src('netlink/socket.js')};
const ip = (...a) => { const r = spawnSync('ip', a, { encoding: 'utf8' }); if (r.status) throw new Error(a.join(' ') + ': ' + r.stderr); };
ip('link', 'add', 'br0', 'type', 'bridge');
ip('link', 'add', 'va', 'type', 'veth', 'peer', 'name', 'vb');
const proc = (n) => { try { return readFileSync('/proc/sys/' + n, 'utf8').trim(); } catch { return undefined; } };
const names = ['net/ipv4/ip_forward', 'net/ipv6/conf/all/forwarding'];
for (const dev of ['br0', 'va', 'lo'])
  for (const k of ['forwarding', 'rp_filter', ...Object.keys(INET_CONF_WRITABLE)]) names.push('net/ipv4/conf/' + dev + '/' + k);
for (const dev of ['br0', 'va', 'lo'])
  for (const k of ['forwarding', 'accept_ra', 'disable_ipv6', 'accept_dad', 'keep_addr_on_down']) names.push('net/ipv6/conf/' + dev + '/' + k);
names.push('net/ipv6/conf/nosuch0/accept_ra', 'net/ipv4/conf/nosuch0/arp_notify', 'net/ipv6/conf/br0/use_tempaddr', 'net/core/somaxconn');
const read = () => { const s = openRtnl(undefined); try { return readSysctls(s, names); } finally { s.close(); } };
const rounds = [];
rounds.push({ proc: names.map(proc), nl: read() });
// other values, through /proc/sys
for (const [n, v] of [['net/ipv4/ip_forward', '1'], ['net/ipv6/conf/all/forwarding', '1'], ['net/ipv6/conf/br0/accept_ra', '0'], ['net/ipv6/conf/va/accept_ra', '2'], ['net/ipv4/conf/va/arp_notify', '1'], ['net/ipv4/conf/br0/rp_filter', '2'], ['net/ipv4/conf/va/arp_ignore', '3'], ['net/ipv6/conf/va/accept_dad', '0'], ['net/ipv6/conf/va/keep_addr_on_down', '1'], ['net/ipv6/conf/va/disable_ipv6', '1']])
  writeFileSync('/proc/sys/' + n, v);
rounds.push({ proc: names.map(proc), nl: read() });
// each IPv4 setting written through rtnetlink: the files of va's conf directories before and after
const files = () => Object.fromEntries(['ipv4', 'ipv6'].flatMap((f) => readdirSync('/proc/sys/net/' + f + '/conf/vb').map((k) => [f + '/' + k, proc('net/' + f + '/conf/vb/' + k)])));
const writes = [];
for (const k of Object.keys(INET_CONF_WRITABLE)) {
  const before = files();
  const value = String(Number(before['ipv4/' + k]) === 2 ? 1 : 2);
  const out = netlinkBatch([['link', 'set', 'dev', 'vb', 'up']], undefined, [['/proc/sys/net/ipv4/conf/vb/' + k, value]]);
  const after = files();
  const changed = Object.keys(after).filter((f) => after[f] !== before[f]).map((f) => f + '=' + after[f]);
  writes.push({ key: k, value, ok: out && 'docs' in out, changed });
}
process.stdout.write(JSON.stringify({ names, rounds, writes }));
`,
);

function runDriver(): {
  names: string[];
  rounds: Array<{ proc: Array<string | null>; nl: Array<string | null> }>;
  writes: Array<{ key: string; value: string; ok: boolean; changed: string[] }>;
} {
  const r = spawnSync('unshare', ['-rn', '--', bun, driver], { encoding: 'utf8', env: { PATH: SYSTEM_PATH } });
  if (r.status !== 0) throw new Error(`driver failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout);
}

const userns = spawnSync('unshare', ['-rn', 'true']).status === 0;
const t = userns ? test : test.skip;
if (!userns) test('devconf: skipped (no user namespaces here)', (x) => x.pass());

t('every sysctl readSysctls reads reads what /proc/sys shows, and the rest is left to /proc/sys', (x) => {
  const { names, rounds } = runDriver();
  for (const [r, { proc, nl }] of rounds.entries()) {
    names.forEach((n, i) => {
      // null (JSON's undefined): not read through rtnetlink (a name outside the subset, a missing link)
      const v = nl[i];
      if (v != null) x.is<string | null, string | null>(v, proc[i] ?? null, `round ${r}: ${n}`);
    });
  }
  const idx = (n: string) => names.indexOf(n);
  // the names the bridge reads are read through rtnetlink, in both rounds
  for (const n of ['net/ipv4/ip_forward', 'net/ipv6/conf/all/forwarding', 'net/ipv6/conf/br0/accept_ra'])
    for (const { nl } of rounds) x.true(nl[idx(n)] != null, n);
  // the second round changed them: the reads follow
  x.deepEqual(
    ['net/ipv4/ip_forward', 'net/ipv6/conf/br0/accept_ra', 'net/ipv4/conf/va/arp_ignore'].map(
      (n) => rounds[1]!.nl[idx(n)],
    ),
    ['1', '0', '3'],
  );
  for (const n of ['net/ipv6/conf/nosuch0/accept_ra', 'net/ipv4/conf/nosuch0/arp_notify', 'net/core/somaxconn'])
    x.is(rounds[0]!.nl[idx(n)] ?? null, null, n);
});

t('an IPv4 setting written through IFLA_INET_CONF changes that sysctl and no other', (x) => {
  const { writes } = runDriver();
  x.true(writes.length >= 5);
  for (const w of writes) {
    x.true(w.ok, w.key);
    x.deepEqual(w.changed, [`ipv4/${w.key}=${w.value}`], w.key);
  }
});
