// @cni-ts/libcni against upstream libcni itself (Debian's libcni 1.1.2, built from source by
// tools/libcni-go): the same conflists give the same request configs, results and cache files,
// and each reads the other's cache for CHECK and DEL — with a logging fixture plugin, with our
// plugins and with the Go plugins in /usr/lib/cni.
//
// Where libcni changed after 1.1.2 we follow the newer releases (what containerd 2 and CRI-O
// ship), and the comparison says exactly what differs: the cache record's `netns` (added in
// 1.2.0 for GC) and the empty `dns` of a 1.x result (dropped from 1.2.0).
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { goJsonCompact, sortKeysDeep } from '@cni-ts/types';
import anyTest, { type TestFn } from 'ava';
import {
  CniConfig,
  type CniResult,
  RawExec,
  type RuntimeConf,
  encodeResult,
  findInPath,
  loadConfList,
  pluginErrorOf,
} from '../../src/index.js';
import {
  type GoOutcome,
  SYSTEM_PATH,
  buildGoLibcni,
  fixtures,
  goBin,
  goLibcni,
  netns,
  ourBin,
  prefix,
  remove,
  rootOnly,
  scratch,
  sh,
} from './kit.js';

const t0 = rootOnly(anyTest as TestFn<{ go: string; work: string }>, 'libcni differential');

t0.before(async (t) => {
  t.context.work = scratch('diff');
  t.context.go = await buildGoLibcni(t.context.work);
});
t0.after.always((t) => remove(t.context.work));

// ---- normalising the two documented differences from libcni 1.1.2 ----

/** A 1.x result as libcni 1.1.2 prints it: with `dns: {}` when empty (sorted for comparison). */
function as112Result(r: any): any {
  if (!r || typeof r !== 'object') return r;
  const major = Number(String(r.cniVersion).split('.')[0]);
  return major >= 1 ? sortKeysDeep({ dns: {}, ...r }) : r;
}

/** Our cache file as libcni 1.1.2 would have written it: no `netns`, 1.x results with `dns: {}`. */
function ourCacheAs112(text: string): string {
  const rec = JSON.parse(text);
  delete rec.netns;
  if (rec.result) rec.result = as112Result(rec.result);
  return goJsonCompact(rec);
}

/** A request config with its prevResult in 1.1.2's form (1.x prevResults differ only in order and dns). */
function stdinAs112(text: string): string {
  const conf = JSON.parse(text);
  if (conf.prevResult) conf.prevResult = as112Result(conf.prevResult);
  return goJsonCompact(conf);
}

function ours(cniPath: string[], cacheDir: string, inNetns?: string): CniConfig {
  const exec = new RawExec({
    env: { PATH: SYSTEM_PATH },
    stderr: null,
    prefix: inNetns ? ['ip', 'netns', 'exec', inNetns] : [],
  });
  return new CniConfig({ path: cniPath, cacheDir, exec });
}

function cacheFile(cacheDir: string, net: string, rt: RuntimeConf): string {
  return readFileSync(join(cacheDir, 'results', `${net}-${rt.containerID}-${rt.ifName}`), 'utf8');
}

function goOk(o: GoOutcome, what: string): any {
  if (o.error) throw new Error(`upstream libcni ${what}: ${o.error}`);
  return o.result;
}

const RT: RuntimeConf = {
  containerID: 'ctr-1',
  netns: '/run/netns/none',
  ifName: 'eth0',
  args: [
    ['IgnoreUnknown', '1'],
    ['K8S_POD_NAME', 'web'],
  ],
  capabilityArgs: {
    portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }],
    bandwidth: { ingressRate: 1000000, ingressBurst: 2000000 },
    mac: 'c2:11:22:33:44:55',
  },
};

for (const version of ['0.3.1', '0.4.0', '1.0.0']) {
  t0(
    `${version}: both libraries send every plugin the same request config and environment, return the same result and write the same cache file`,
    async (t) => {
      const dir = scratch('logger');
      t.teardown(() => remove(dir));
      const logDir = join(dir, 'log');
      const confDir = join(dir, 'conf');
      mkdirSync(logDir);
      mkdirSync(confDir);
      const list = {
        cniVersion: version,
        name: 'difflog',
        plugins: [
          {
            type: 'stdin-logger',
            logDir,
            myAddress: '10.88.0.2/24',
            capabilities: { portMappings: true, mac: false },
            html: '<a&b>',
            runtimeConfig: { replaced: true },
          },
          {
            type: 'stdin-logger',
            logDir,
            myAddress: '10.88.0.3/24',
            capabilities: { bandwidth: true },
            z: { b: 1, a: [3, 2] },
          },
        ],
      };
      writeFileSync(join(confDir, '10-difflog.conflist'), `${JSON.stringify(list, null, 2)}\n`);
      const cniPath = [fixtures];
      const steps = version === '0.3.1' ? ['add', 'del'] : ['add', 'check', 'del'];

      const goCache = join(dir, 'go-cache');
      const goRuns: Record<string, GoOutcome> = {};
      let goCacheText = '';
      for (const s of steps) {
        goRuns[s] = await goLibcni(t.context.go, [s, confDir, 'difflog'], { cniPath, cacheDir: goCache, stdin: RT });
        if (s === 'add') goCacheText = cacheFile(goCache, 'difflog', RT);
      }
      const goLog = readLog(logDir);
      remove(logDir);
      mkdirSync(logDir);

      const ourCache = join(dir, 'our-cache');
      const cni = ours(cniPath, ourCache);
      const l = loadConfList(confDir, 'difflog');
      let result: CniResult | undefined;
      let ourCacheText = '';
      for (const s of steps) {
        if (s === 'add') {
          result = await cni.addNetworkList(l, RT);
          ourCacheText = cacheFile(ourCache, 'difflog', RT);
        } else if (s === 'check') await cni.checkNetworkList(l, RT);
        else await cni.delNetworkList(l, RT);
      }
      const ourLog = readLog(logDir);

      t.is(ourLog.length, goLog.length, 'as many plugin runs');
      for (const [i, g] of goLog.entries()) {
        const o = ourLog[i];
        t.is(o?.env, g.env, `run ${i}: CNI_* environment`);
        if (version.startsWith('0.')) t.is(o?.stdin, g.stdin, `run ${i}: request config, byte for byte`);
        else t.is(stdinAs112(o?.stdin ?? ''), stdinAs112(g.stdin), `run ${i}: request config`);
      }
      t.deepEqual(
        JSON.stringify(as112Result(result ? encodeResult(result) : undefined)),
        JSON.stringify(as112Result(goOk(goRuns.add as GoOutcome, 'ADD'))),
        'the ADD result',
      );
      t.is(
        ourCacheAs112(ourCacheText),
        goCacheText,
        'the cache file, byte for byte but for the documented differences',
      );
      t.is(JSON.parse(ourCacheText).netns, RT.netns, 'ours records the netns (libcni ≥ 1.2)');
      for (const s of steps.slice(1)) t.is(goRuns[s]?.error, undefined, `upstream ${s}`);
    },
  );
}

function readLog(dir: string): Array<{ stdin: string; env: string }> {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.stdin'))
    .sort()
    .map((f) => ({
      stdin: readFileSync(join(dir, f), 'utf8'),
      env: readFileSync(join(dir, f.replace(/\.stdin$/, '.env')), 'utf8'),
    }));
}

t0('both libraries load the same lists from a directory: names, versions, plugin bytes and errors', async (t) => {
  const dir = scratch('load');
  t.teardown(() => remove(dir));
  const files: Record<string, unknown> = {
    '10-a.conflist': {
      cniVersion: '1.0.0',
      name: 'a',
      disableCheck: true,
      plugins: [{ type: 'bridge', ipam: { type: 'host-local', ranges: [[{ subnet: '10.1.0.0/16' }]] }, x: '<>&' }],
    },
    '20-a.conflist': { cniVersion: '0.4.0', name: 'a', plugins: [{ type: 'ignored' }] },
    '30-single.conf': { cniVersion: '0.3.1', name: 'single', type: 'loopback', extra: { b: 2, a: 1 } },
    '40-json.json': { cniVersion: '0.4.0', name: 'json', type: 'ptp' },
    '50-noname.conflist': { plugins: [{ type: 'x' }] },
  };
  for (const [f, v] of Object.entries(files)) writeFileSync(join(dir, f), JSON.stringify(v));
  const good = join(dir, 'good');
  mkdirSync(good);
  for (const f of ['10-a.conflist', '20-a.conflist', '30-single.conf', '40-json.json'])
    writeFileSync(join(good, f), JSON.stringify(files[f]));
  for (const [d, name] of [
    [good, 'a'],
    [good, 'single'],
    [good, 'json'],
    [good, 'missing'],
    [dir, 'a'],
    [join(dir, 'nothing-here'), 'a'],
  ] as const) {
    const g = await goLibcni(t.context.go, ['load', d, name], { cniPath: ['/none'], cacheDir: dir });
    let o: GoOutcome;
    try {
      const l = loadConfList(d, name);
      o = {
        result: {
          name: l.name,
          cniVersion: l.cniVersion,
          disableCheck: l.disableCheck,
          plugins: l.plugins.map((p) => p.bytes.toString('utf8')),
        },
      };
    } catch (e) {
      o = { error: (e as Error).message };
    }
    t.deepEqual(o, g, `${d === good ? 'good' : d === dir ? 'with a broken file' : 'missing dir'}: ${name}`);
  }
});

// ---- real plugins ----

interface PluginSet {
  label: string;
  path: string[];
}
const SETS: PluginSet[] = [
  { label: 'our plugins', path: [ourBin] },
  { label: 'the Go plugins', path: [goBin] },
];

for (const set of SETS) {
  t0(
    `${set.label}: loopback and host-local+portmap give the same results and cache files through both libraries`,
    async (t) => {
      const p = prefix(`d${SETS.indexOf(set)}`);
      const dir = scratch('real');
      const node = await netns(`${p}-node`);
      const pod = await netns(`${p}-pod`);
      t.teardown(async () => {
        await pod.destroy();
        await node.destroy();
        remove(dir);
      });
      const dataDir = join(dir, 'ipam');
      const confDir = join(dir, 'conf');
      mkdirSync(confDir);
      const lists = {
        lo: { cniVersion: '1.0.0', name: 'lo', plugins: [{ type: 'loopback' }] },
        lo04: { cniVersion: '0.4.0', name: 'lo04', plugins: [{ type: 'loopback' }] },
        pm: {
          cniVersion: '0.4.0',
          name: 'pm',
          plugins: [
            {
              type: 'host-local',
              ipam: {
                type: 'host-local',
                dataDir,
                ranges: [[{ subnet: '10.89.0.0/24', gateway: '10.89.0.1' }]],
                routes: [{ dst: '0.0.0.0/0' }],
              },
            },
            { type: 'portmap', capabilities: { portMappings: true }, snat: true },
          ],
        },
      };
      for (const [n, l] of Object.entries(lists)) writeFileSync(join(confDir, `${n}.conflist`), JSON.stringify(l));
      for (const [net, ifName] of [
        ['lo', 'lo'],
        ['lo04', 'lo'],
        ['pm', 'eth0'],
      ] as const) {
        const rt: RuntimeConf = {
          containerID: `${p}-c`,
          netns: pod.path,
          ifName,
          capabilityArgs: { portMappings: [{ hostPort: 18080, containerPort: 80, protocol: 'tcp' }] },
        };
        const goCache = join(dir, `go-${net}`);
        const g = goOk(
          await goLibcni(t.context.go, ['add', confDir, net], {
            cniPath: set.path,
            cacheDir: goCache,
            stdin: rt,
            netns: node.name,
          }),
          `${net} ADD`,
        );
        const goText = cacheFile(goCache, net, rt);
        goOk(
          await goLibcni(t.context.go, ['del', confDir, net], {
            cniPath: set.path,
            cacheDir: goCache,
            stdin: rt,
            netns: node.name,
          }),
          `${net} DEL`,
        );
        remove(dataDir);
        const ourCache = join(dir, `our-${net}`);
        const cni = ours(set.path, ourCache, node.name);
        const l = loadConfList(confDir, net);
        const r = await cni.addNetworkList(l, rt);
        const ourText = cacheFile(ourCache, net, rt);
        await cni.delNetworkList(l, rt);
        remove(dataDir);
        t.is(
          JSON.stringify(as112Result(r && encodeResult(r))),
          JSON.stringify(as112Result(g)),
          `${net}: the ADD result`,
        );
        t.is(ourCacheAs112(ourText), goText, `${net}: the cache file`);
      }
    },
  );

  for (const version of ['0.4.0', '1.0.0']) {
    t0(
      `${set.label}, ${version}: each library CHECKs and DELs what the other ADDed, from the other's cache`,
      async (t) => {
        const p = prefix(`x${SETS.indexOf(set)}${version[0]}`);
        const dir = scratch('cross');
        const node = await netns(`${p}-node`);
        const pods = [await netns(`${p}-p1`), await netns(`${p}-p2`)];
        t.teardown(async () => {
          for (const x of pods) await x.destroy();
          await node.destroy();
          remove(dir);
        });
        await sh('ip', ['netns', 'exec', node.name, 'ip', 'link', 'set', 'lo', 'up']);
        const dataDir = join(dir, 'ipam');
        const confDir = join(dir, 'conf');
        const cacheDir = join(dir, 'cache');
        mkdirSync(confDir);
        const list = {
          cniVersion: version,
          name: 'cross',
          plugins: [
            {
              type: 'bridge',
              bridge: `${p.slice(0, 10)}br`,
              isGateway: true,
              ipMasq: true,
              ipam: { type: 'host-local', dataDir, ranges: [[{ subnet: '10.90.0.0/24' }]] },
            },
            { type: 'portmap', capabilities: { portMappings: true } },
          ],
        };
        writeFileSync(join(confDir, 'cross.conflist'), JSON.stringify(list));
        const l = loadConfList(confDir, 'cross');
        // Go's portmap v1.1.1 fails every CHECK (it looks for IPv6 rules it never wrote), under
        // upstream libcni too: CHECK then reads the same cache through the list without it
        const goPortmap = findInPath('portmap', set.path).startsWith(`${goBin}/`);
        const checkDir = join(dir, 'check');
        mkdirSync(checkDir);
        const checkList = goPortmap ? { ...list, plugins: list.plugins.slice(0, 1) } : list;
        writeFileSync(join(checkDir, 'cross.conflist'), JSON.stringify(checkList));
        const lc = loadConfList(checkDir, 'cross');
        const cni = ours(set.path, cacheDir, node.name);
        const go = (op: string, rt: RuntimeConf) =>
          goLibcni(t.context.go, [op, op === 'check' ? checkDir : confDir, 'cross'], {
            cniPath: set.path,
            cacheDir,
            stdin: rt,
            netns: node.name,
          });
        const rt = (i: number): RuntimeConf => ({
          containerID: `${p}-c${i}`,
          netns: pods[i - 1]?.path ?? '',
          ifName: 'eth0',
          capabilityArgs: { portMappings: [{ hostPort: 18000 + i, containerPort: 80, protocol: 'tcp' }] },
        });

        // upstream ADDs, we CHECK and DEL
        const r1 = rt(1);
        goOk(await go('add', r1), 'ADD');
        const file1 = join(cacheDir, 'results', `cross-${r1.containerID}-eth0`);
        const saved = readFileSync(file1);
        await cni.checkNetworkList(lc, r1);
        remove(file1);
        const noCache = await t.throwsAsync(cni.checkNetworkList(lc, r1));
        t.truthy(pluginErrorOf(noCache), 'without the cached result CHECK fails: the cache is what it checked against');
        writeFileSync(file1, saved);
        await cni.delNetworkList(l, r1);
        t.throws(() => readFileSync(file1), undefined, 'our DEL removed the Go cache file');

        // we ADD, upstream CHECKs and DELs
        const r2 = rt(2);
        await cni.addNetworkList(l, r2);
        t.is((await go('check', r2)).error, undefined, 'upstream CHECK of our cache');
        t.is((await go('del', r2)).error, undefined, 'upstream DEL of our cache');
        t.throws(() => readFileSync(join(cacheDir, 'results', `cross-${r2.containerID}-eth0`)));

        // nothing is left: no pod veth, no reservation, no portmap chain
        const links = JSON.parse(await sh('ip', ['-n', node.name, '-j', 'link', 'show', 'type', 'veth']));
        t.deepEqual(
          links.map((x: { ifname: string }) => x.ifname),
          [],
          'no veth left',
        );
        const held = readdirSync(join(dataDir, 'cross')).filter((f) => /^\d/.test(f));
        t.deepEqual(held, [], 'no address reserved');
        const nat = await sh('ip', ['netns', 'exec', node.name, 'iptables-save', '-t', 'nat']);
        t.deepEqual(
          nat.split('\n').filter((x) => /CNI-DN-|CNI-HOSTPORT-DNAT -.*18\d\d\d|^:CNI-[0-9a-f]{24}/.test(x)),
          [],
          'no port mapping or masquerade chain left',
        );
      },
    );
  }
}
