// The real host's link lookups (host.ts) on the real kernel, in a fresh user+network namespace
// (`unshare -rn`, no root; veths, since a user namespace cannot load the dummy module): hasLink answers as the whole list (/proc/net/dev) does — for links
// with IPv6 (found by /proc/net/dev_snmp6), links without (an MTU under IPv6's 1280: only the list
// has them), renamed and missing links and names that are paths — and hasIpv6 as /proc/sys/net/ipv6.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SYSTEM_PATH } from '@cni-ts/testutils';

const dir = mkdtempSync(join(tmpdir(), 'cts-br-host-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

const driver = join(dir, 'driver.mjs');
writeFileSync(
  driver,
  `import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { systemHost } from ${JSON.stringify(new URL('../src/host.js', import.meta.url).href)};
const ip = (...a) => execFileSync('ip', a);
ip('link', 'add', 'd0', 'type', 'veth', 'peer', 'name', 'd0p');
ip('link', 'add', 'small0', 'mtu', '1000', 'type', 'veth', 'peer', 'name', 'small0p', 'mtu', '1000');
ip('link', 'add', 'ren0', 'type', 'veth', 'peer', 'name', 'ren0p');
ip('link', 'set', 'ren0', 'name', 'ren1');
const names = ['lo', 'd0', 'small0', 'ren0', 'ren1', 'nope0', '.', '..', '../dev', 'dev_snmp6', 'd0/../lo', ''];
console.log(JSON.stringify({
  all: [...systemHost.linkNames()],
  has: Object.fromEntries(names.map((n) => [n, systemHost.hasLink(n)])),
  snmp6: Object.fromEntries(names.map((n) => [n, existsSync('/proc/self/net/dev_snmp6/' + n)])),
  ipv6: [systemHost.hasIpv6(), existsSync('/proc/sys/net/ipv6')],
}));
`,
);

test('hasLink agrees with the list of every link, by the cheap lookup or the list; hasIpv6 with /proc/sys/net/ipv6', (t) => {
  const r = spawnSync('unshare', ['-rn', process.execPath, driver], { encoding: 'utf8', env: { PATH: SYSTEM_PATH } });
  t.is(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as {
    all: string[];
    has: Record<string, boolean>;
    snmp6: Record<string, boolean>;
    ipv6: [boolean, boolean];
  };
  t.deepEqual(out.all.sort(), ['d0', 'd0p', 'lo', 'ren0p', 'ren1', 'small0', 'small0p']);
  // the cases each path answers: d0 by its dev_snmp6 entry, small0 (no IPv6) only by the list
  t.true(out.snmp6.d0);
  t.false(out.snmp6.small0);
  t.true(out.snmp6['..'] && out.snmp6['../dev'], 'paths that the cheap lookup must not take');
  t.deepEqual(out.has, {
    lo: true,
    d0: true,
    small0: true,
    ren0: false,
    ren1: true,
    nope0: false,
    '.': false,
    '..': false,
    '../dev': false,
    dev_snmp6: false,
    'd0/../lo': false,
    '': false,
  });
  t.deepEqual(out.ipv6, [true, true]);
});
