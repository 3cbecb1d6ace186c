// The built dist/bin/host-local, exec'd like a runtime does, for every bullet of the issue and
// for cniVersions 0.3.1, 0.4.0, 1.0.0 and 1.1.0. host-local needs no netns: only a dataDir.
import test from 'ava';
import { existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { VERSIONS, addresses, call, conf, ours, reservationNames, snapshot, tempDirs } from './helpers.js';

const dirs = tempDirs();
test.after.always(() => dirs.cleanup());

const noStack = (s: string) => !/\n\s+at /.test(s);
const v4orLater = (v: string) => v !== '0.3.1';

for (const v of VERSIONS) {
  test(`${v}: dual-stack ADD, CHECK, DEL and a second DEL`, async (t) => {
    const d = dirs.make();
    const add = await call(ours, 'ADD', conf(d, v));
    t.is(add.exitCode, 0, add.stdout);
    t.is(add.json.cniVersion, v);
    t.deepEqual(
      add.json.ips.map((i: any) => [i.address, i.gateway]),
      [
        ['10.1.0.2/24', '10.1.0.1'],
        ['2001:db8:1::2/64', '2001:db8:1::1'],
      ],
    );
    if (!v.startsWith('1.'))
      t.deepEqual(
        add.json.ips.map((i: any) => i.version),
        ['4', '6'],
      );
    t.false('interfaces' in add.json);
    const check = await call(ours, 'CHECK', conf(d, v, {}, { prevResult: add.json }));
    if (v4orLater(v)) t.is(check.exitCode, 0, check.stdout);
    else t.is(check.json?.code, 1, 'CHECK needs 0.4.0');
    const del = await call(ours, 'DEL', conf(d, v, {}, { prevResult: add.json }));
    t.deepEqual([del.exitCode, del.stdout], [0, '']);
    t.deepEqual(reservationNames(d), []);
    t.is((await call(ours, 'DEL', conf(d, v))).exitCode, 0, 'DEL with nothing to release succeeds');
    if (v4orLater(v)) {
      const after = await call(ours, 'CHECK', conf(d, v, {}, { prevResult: add.json }));
      t.is(after.json?.code, 100);
      t.regex(after.json?.msg, /^host-local: Failed to find address added by container ctr1/);
    }
  });

  test(`${v}: DEL after a config change releases anyway (broken ranges, junk prevResult, no netns), again, and with no usable store`, async (t) => {
    const d = dirs.make();
    t.is((await call(ours, 'ADD', conf(d, v))).exitCode, 0);
    t.is((await call(ours, 'ADD', conf(d, v), { id: 'other' })).exitCode, 0);
    const changed = conf(d, v, { ranges: [[{ subnet: '10.1.0.0/33' }]], routes: 'none' }, { prevResult: 'junk' });
    t.is((await call(ours, 'ADD', changed, { id: 'x' })).json?.code, 7, 'ADD refuses this config');
    const del = await call(ours, 'DEL', changed, { env: { CNI_NETNS: undefined } });
    t.deepEqual([del.exitCode, del.stdout], [0, ''], del.stdout);
    t.deepEqual(reservationNames(d).sort(), ['10.1.0.3', '2001:db8:1::3'], "only the other attachment's addresses");
    t.is((await call(ours, 'DEL', changed)).exitCode, 0, 'again');
    for (const ipam of [{ dataDir: 'relative/dir' }, { dataDir: 7 }]) {
      const r = await call(ours, 'DEL', conf(d, v, ipam), { id: 'other' });
      t.deepEqual([r.exitCode, r.stdout], [0, '']);
      t.regex(r.stderr, /nothing to release/);
    }
    t.is(reservationNames(d).length, 2, 'a DEL that cannot find the store touches nothing');
  });

  test(`${v}: the store is byte-compatible: "<id>\\r\\n<ifname>", cursors, lock; reservations root-only`, async (t) => {
    const d = dirs.make();
    t.is((await call(ours, 'ADD', conf(d, v), { id: 'ctr-a', ifname: 'net1' })).exitCode, 0);
    const s = snapshot(d)!;
    t.deepEqual(Object.keys(s), ['10.1.0.2', '2001:db8:1::2', 'last_reserved_ip.0', 'last_reserved_ip.1', 'lock']);
    t.deepEqual([s['10.1.0.2']!.content, s['2001:db8:1::2']!.content], ['ctr-a\r\nnet1', 'ctr-a\r\nnet1']);
    t.deepEqual(
      [s['last_reserved_ip.0']!.content, s['last_reserved_ip.1']!.content, s.lock!.content],
      ['10.1.0.2', '2001:db8:1::2', ''],
    );
    t.deepEqual(
      Object.values(s).map((f) => f.mode.toString(8)),
      ['600', '600', '600', '600', '750'],
    );
  });

  test(`${v}: the legacy single range, routes and resolvConf`, async (t) => {
    const d = dirs.make();
    const resolv = join(d, 'resolv.conf');
    writeFileSync(resolv, 'nameserver 192.0.2.53\nsearch svc.cluster.local\noptions ndots:5\n');
    const ipam = {
      ranges: undefined,
      subnet: '10.5.0.0/16',
      rangeStart: '10.5.1.10',
      rangeEnd: '10.5.1.20',
      gateway: '10.5.0.1',
      routes: [{ dst: '0.0.0.0/0', gw: '10.5.0.1' }],
      resolvConf: resolv,
    };
    const add = await call(ours, 'ADD', conf(d, v, ipam));
    t.is(add.exitCode, 0, add.stdout);
    t.deepEqual(addresses(add), ['10.5.1.10/16']);
    t.deepEqual(add.json.routes, [{ dst: '0.0.0.0/0', gw: '10.5.0.1' }]);
    t.deepEqual(add.json.dns, { nameservers: ['192.0.2.53'], search: ['svc.cluster.local'], options: ['ndots:5'] });
  });

  test(`${v}: requested addresses from CNI_ARGS, args.cni.ips and runtimeConfig.ips`, async (t) => {
    const d = dirs.make();
    const extra = { args: { cni: { ips: ['2001:db8:1::77/64'] } } };
    const a = await call(ours, 'ADD', conf(d, v, {}, extra), {
      id: 'a',
      cniArgs: 'IgnoreUnknown=1;K8S_POD_NAME=web;IP=10.1.0.77',
    });
    t.deepEqual(addresses(a), ['10.1.0.77/24', '2001:db8:1::77/64']);
    const b = await call(ours, 'ADD', conf(d, v, {}, { runtimeConfig: { ips: ['10.1.0.78'] } }), { id: 'b' });
    t.deepEqual(
      addresses(b),
      ['10.1.0.78/24', '2001:db8:1::78/64'],
      'IPv6 goes on round-robin after the last reserved',
    );
    const taken = await call(ours, 'ADD', conf(d, v), { id: 'c', cniArgs: 'IP=10.1.0.77' });
    t.is(taken.json?.code, 7);
    t.regex(
      taken.json.msg,
      /^requested IP address 10\.1\.0\.77 \(CNI_ARGS IP\) is not available in range set 0 .* it is reserved by container a interface eth0$/,
    );
    const gw = await call(ours, 'ADD', conf(d, v), { id: 'c', cniArgs: 'IP=10.1.0.1' });
    t.regex(gw.json?.msg, /^requested IP 10\.1\.0\.1 \(CNI_ARGS IP\) is the gateway of range/);
    const outside = await call(ours, 'ADD', conf(d, v, {}, { runtimeConfig: { ips: ['10.99.0.5'] } }), { id: 'c' });
    t.is(outside.json?.code, 7);
    t.regex(outside.json.msg, /^failed to allocate all requested IPs: 10\.99\.0\.5 \(runtimeConfig\.ips\[0\]\)/);
    t.deepEqual(
      reservationNames(d).sort(),
      ['10.1.0.77', '10.1.0.78', '2001:db8:1::77', '2001:db8:1::78'],
      'failed ADDs left nothing',
    );
  });

  test(`${v}: the ipRanges capability comes first (rangeID 0)`, async (t) => {
    const d = dirs.make();
    const add = await call(
      ours,
      'ADD',
      conf(d, v, {}, { runtimeConfig: { ipRanges: [[{ subnet: '10.9.0.0/24', rangeStart: '10.9.0.100' }]] } }),
    );
    t.is(add.exitCode, 0, add.stdout);
    t.deepEqual(addresses(add), ['10.9.0.100/24', '10.1.0.2/24', '2001:db8:1::2/64']);
    const s = snapshot(d)!;
    t.deepEqual(
      ['last_reserved_ip.0', 'last_reserved_ip.1', 'last_reserved_ip.2'].map((f) => s[f]?.content),
      ['10.9.0.100', '10.1.0.2', '2001:db8:1::2'],
    );
  });

  test(`${v}: round-robin after the last reserved address, skipping network, gateway and broadcast`, async (t) => {
    const d = dirs.make();
    const small = conf(d, v, { ranges: [[{ subnet: '10.2.0.0/29' }]] });
    const got: string[] = [];
    for (const id of ['a', 'b']) got.push(...addresses(await call(ours, 'ADD', small, { id })));
    await call(ours, 'DEL', small, { id: 'a' });
    for (const id of ['c', 'd', 'e', 'f']) got.push(...addresses(await call(ours, 'ADD', small, { id })));
    t.deepEqual(got, ['10.2.0.2/29', '10.2.0.3/29', '10.2.0.4/29', '10.2.0.5/29', '10.2.0.6/29', '10.2.0.2/29']);
  });

  test(`${v}: exhaustion is code 7 naming the network and the full range`, async (t) => {
    const d = dirs.make();
    const tiny = conf(d, v, { ranges: [[{ subnet: '10.3.0.0/30' }]] });
    t.is((await call(ours, 'ADD', tiny, { id: 'a' })).exitCode, 0);
    const r = await call(ours, 'ADD', tiny, { id: 'b' });
    t.is(r.exitCode, 1);
    t.deepEqual(
      [r.json.code, r.json.msg],
      [
        7,
        'no IP addresses available in range set 0 (10.3.0.1-10.3.0.2) of network "hlnet": all 1 usable addresses are reserved',
      ],
    );
    t.regex(r.json.details, /widen ipam\.ranges\[0\]/);
  });

  const configErrors: Array<[string, object, RegExp]> = [
    [
      'overlapping range sets',
      { ranges: [[{ subnet: '10.1.0.0/16' }], [{ subnet: '10.1.4.0/24' }]] },
      /^range set 0 \(ipam\.ranges\[0\]: 10\.1\.0\.1-10\.1\.255\.254\) overlaps with range set 1/,
    ],
    [
      'a gateway outside the subnet',
      { ranges: [[{ subnet: '10.1.0.0/24', gateway: '10.7.0.1' }]] },
      /^ipam\.ranges\[0\]\[0\]: gateway 10\.7\.0\.1 is outside subnet 10\.1\.0\.0\/24$/,
    ],
    [
      'rangeStart outside the subnet',
      { ranges: [[{ subnet: '10.1.0.0/24', rangeStart: '10.1.1.1' }]] },
      /rangeStart 10\.1\.1\.1 is outside subnet/,
    ],
    [
      'start after end',
      { ranges: [[{ subnet: '10.1.0.0/24', rangeStart: '10.1.0.9', rangeEnd: '10.1.0.3' }]] },
      /rangeStart 10\.1\.0\.9 is after rangeEnd 10\.1\.0\.3$/,
    ],
    ['a bad CIDR', { ranges: [[{ subnet: '10.1.0.0/40' }]] }, /subnet "10\.1\.0\.0\/40" is not a valid CIDR$/],
    ['no ranges', { ranges: [] }, /^no IP ranges specified$/],
  ];
  for (const [what, ipam, msg] of configErrors) {
    test(`${v}: config error, ${what}: code 7 with a message that names it, nothing written`, async (t) => {
      const d = dirs.make();
      const r = await call(ours, 'ADD', conf(d, v, ipam));
      t.is(r.exitCode, 1);
      t.is(r.json?.code, 7, r.stdout);
      t.regex(r.json.msg, msg);
      t.true(noStack(r.stdout + r.stderr));
      t.deepEqual(readdirSync(d), []);
    });
  }

  test(`${v}: a dataDir or network store that could lead outside is refused (code 7)`, async (t) => {
    const d = dirs.make();
    const dotdot = await call(ours, 'ADD', conf(`${d}/a/../../etc`, v));
    t.deepEqual(
      [dotdot.json?.code, dotdot.json?.msg],
      [7, `ipam.dataDir "${d}/a/../../etc" contains "." or ".." segments`],
    );
    mkdirSync(`${d}/real`);
    symlinkSync(`${d}/real`, `${d}/linked`);
    const linkedDir = await call(ours, 'ADD', conf(`${d}/linked`, v));
    t.deepEqual([linkedDir.json?.code, linkedDir.json?.msg], [7, `ipam.dataDir "${d}/linked" is a symbolic link`]);
    mkdirSync(`${d}/data`);
    mkdirSync(`${d}/victim`);
    symlinkSync(`${d}/victim`, `${d}/data/hlnet`);
    for (const cmd of ['ADD', 'DEL']) {
      const r = await call(ours, cmd, conf(`${d}/data`, v));
      t.deepEqual(
        [r.json?.code, r.json?.msg],
        [7, `the store of network "hlnet", ${d}/data/hlnet, is a symbolic link`],
        cmd,
      );
    }
    const slash = await call(ours, 'ADD', { ...conf(`${d}/data`, v), name: '../hlnet' });
    t.is(slash.json?.code, 7);
    t.is(slash.json?.msg, 'invalid characters found in network name');
    t.deepEqual([readdirSync(`${d}/real`), readdirSync(`${d}/victim`)], [[], []], 'nothing was written through a link');
  });

  test(`${v}: GC releases what the runtime no longer lists (1.1.0; refused before)`, async (t) => {
    const d = dirs.make();
    for (const id of ['keep', 'stale']) await call(ours, 'ADD', conf(d, v), { id });
    const gcConf = { ...conf(d, v), 'cni.dev/valid-attachments': [{ containerID: 'keep', ifname: 'eth0' }] };
    const gc = await call(ours, 'GC', gcConf, { env: { CNI_CONTAINERID: undefined, CNI_IFNAME: undefined } });
    if (v !== '1.1.0') {
      t.deepEqual([gc.json?.code, gc.json?.msg], [1, 'config version does not allow GC']);
      t.is(reservationNames(d).length, 4);
      return;
    }
    t.deepEqual([gc.exitCode, gc.stdout], [0, '']);
    const s = snapshot(d)!;
    t.deepEqual(Object.keys(s), ['10.1.0.2', '2001:db8:1::2', 'last_reserved_ip.0', 'last_reserved_ip.1', 'lock']);
    t.is(s['10.1.0.2']!.content, 'keep\r\neth0');
    t.is(s['last_reserved_ip.0']!.content, '10.1.0.3', 'cursors are left alone');
  });

  test(`${v}: STATUS says whether the store can take a reservation (1.1.0; refused before)`, async (t) => {
    const d = dirs.make();
    const tiny = conf(d, v, { ranges: [[{ subnet: '10.3.0.0/30' }]] });
    const env = { env: { CNI_CONTAINERID: undefined, CNI_IFNAME: undefined, CNI_NETNS: undefined } };
    const ready = await call(ours, 'STATUS', tiny, env);
    if (v !== '1.1.0') {
      t.deepEqual([ready.json?.code, ready.json?.msg], [1, 'config version does not allow STATUS']);
      return;
    }
    t.deepEqual([ready.exitCode, ready.stdout], [0, '']);
    await call(ours, 'ADD', tiny);
    const full = await call(ours, 'STATUS', tiny, env);
    t.deepEqual(
      [full.json?.code, full.json?.msg],
      [
        50,
        'no IP addresses available in range set 0 (10.3.0.1-10.3.0.2) of network "hlnet": all 1 usable addresses are reserved',
      ],
    );
    const broken = await call(ours, 'STATUS', conf(d, v, { ranges: [[{ subnet: '10.3.0.0/31' }]] }), env);
    t.is(broken.json?.code, 7);
  });

  test(`${v}: DEL releases by (containerID, ifname), legacy id-only files included`, async (t) => {
    const d = dirs.make();
    await call(ours, 'ADD', conf(d, v), { ifname: 'eth0' });
    await call(ours, 'ADD', conf(d, v), { ifname: 'eth1' });
    await call(ours, 'DEL', conf(d, v), { ifname: 'eth0' });
    t.deepEqual(reservationNames(d), ['10.1.0.3', '2001:db8:1::3']);
    t.is(readFileSync(join(d, 'hlnet', '10.1.0.3'), 'utf8'), 'ctr1\r\neth1');
    unlinkSync(join(d, 'hlnet', '10.1.0.3'));
    writeFileSync(join(d, 'hlnet', '10.1.0.40'), 'ctr-legacy');
    if (v4orLater(v)) {
      const check = await call(ours, 'CHECK', conf(d, v, { ranges: [[{ subnet: '10.1.0.0/24' }]] }), {
        id: 'ctr-legacy',
        ifname: 'eth7',
      });
      t.is(check.exitCode, 0, 'a legacy file satisfies CHECK, as upstream');
    }
    t.is((await call(ours, 'DEL', conf(d, v), { id: 'ctr-legacy', ifname: 'eth7' })).exitCode, 0);
    t.false(existsSync(join(d, 'hlnet', '10.1.0.40')));
  });
}
