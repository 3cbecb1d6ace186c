// bridge's host-local in-process (CNI_PATH's host-local is dist/bin's, the same inode as the
// bridge executable) against host-local exec'd (CNI_PATH holds a copy of the executable: another
// inode): the same verbs, errors and store, byte for byte, through the built executables.
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import anyTest, { type TestFn } from 'ava';
import { binDir } from '@cni-ts/testutils';
import { type World, worldTest, netConf, run } from './kit.js';

const test = worldTest(anyTest as TestFn<{ w: World }>, 'bi', 'bridge with in-process host-local');

// Program names of the processes running a host-local (argv[0] ends in /host-local).
// host-local processes working for the pod at `netns` (their environment names it: a delegate
// inherits the bridge's), so other test files running host-local meanwhile do not count
function hostLocalProcesses(netns: string): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const argv0 = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] ?? '';
      if (!argv0.endsWith('/host-local')) continue;
      if (!readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`CNI_NETNS=${netns}`)) continue;
      out.push(`${argv0} (${readlinkSync(`/proc/${pid}/exe`)})`);
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

// Replaces what differs between two runs by design (random MACs and veth names, the store's and pods' paths).
function normal(text: string, dataDir: string, pods: string[]): string {
  for (const [i, p] of pods.entries()) text = text.replaceAll(p, `<pod ${i}>`);
  return text
    .replaceAll(dataDir, '<dataDir>')
    .replace(/([0-9a-f]{2}:){5}[0-9a-f]{2}/g, '<mac>')
    .replace(/veth[0-9a-f]{8}/g, '<veth>');
}

test('in-process and exec’d host-local give the same answers, errors, store and cleanup', async (t) => {
  const { w } = t.context;
  const copy = join(w.dir, 'copy');
  mkdirSync(copy);
  copyFileSync(join(binDir, 'cni-ts'), join(copy, 'host-local'));
  const modes = { 'in-process': [binDir], "exec'd": [copy, binDir] };
  const transcripts: Record<string, string[]> = {};
  const codes: Record<string, number[]> = {};
  const seenWaiting: Record<string, string[]> = {};
  for (const [mode, cniPath] of Object.entries(modes)) {
    const dataDir = join(w.dir, `ipam-${mode}`);
    // a /30: one address to hand out, so the second pod meets an exhausted range
    const conf = netConf(w, { cniVersion: '1.1.0', isGateway: true, ipMasq: true }, [[{ subnet: '10.22.0.0/30' }]]);
    (conf.ipam as Record<string, unknown>).dataDir = dataDir;
    const a = await w.node.addPod(`a${mode.length}`);
    const b = await w.node.addPod(`b${mode.length}`);
    const log: string[] = [];
    const rc: number[] = [];
    const call = async (what: string, cmd: string, pod: any, cfg: unknown, id: string, env = {}) => {
      const r = await run(w, cmd, pod, cfg, { containerId: id, cniPath, env });
      rc.push(r.exitCode);
      const n = (x: string) => normal(x, dataDir, [a.path, b.path]);
      log.push(`${what}: exit ${r.exitCode} ${n(r.stdout)} ${n(r.stderr)}`);
      return r;
    };
    const ra = await call('ADD a', 'ADD', a, conf, 'a');
    await call('ADD b, range exhausted', 'ADD', b, conf, 'b');
    const broken = { ...conf, ipam: { ...(conf.ipam as object), ranges: [[{ subnet: '10.22.0.1/40' }]] } };
    await call('ADD b, bad ranges', 'ADD', b, broken, 'b');
    await call('CHECK a', 'CHECK', a, { ...conf, prevResult: ra.json }, 'a');
    await call('STATUS', 'STATUS', '', conf, '');
    await call(
      'GC keeping a',
      'GC',
      '',
      { ...conf, 'cni.dev/valid-attachments': [{ containerID: 'a', ifname: 'eth0' }] },
      '',
    );
    // the store's lock held by another process: host-local waits, then answers 11
    const holder = spawn('flock', [join(dataDir, 'podnet', 'lock'), 'sleep', '30'], { stdio: 'ignore' });
    try {
      await new Promise((r) => setTimeout(r, 200));
      const busy = call('DEL a, store locked', 'DEL', a, conf, 'a', { CNI_TS_LOCK_TIMEOUT_MS: '1500' });
      await new Promise((r) => setTimeout(r, 700));
      seenWaiting[mode] = hostLocalProcesses(a.path).filter((p) => p.includes(w.dir) || p.startsWith(binDir));
      await busy;
    } finally {
      holder.kill('SIGKILL');
    }
    await call('DEL a', 'DEL', a, conf, 'a');
    await call('DEL a again', 'DEL', a, conf, 'a');
    log.push(`store left: ${readdirSync(join(dataDir, 'podnet')).sort().join(',')}`);
    transcripts[mode] = log;
    codes[mode] = rc;
  }
  t.deepEqual(codes['in-process'], [0, 1, 1, 0, 1, 0, 1, 0, 0], transcripts['in-process']!.join('\n'));
  t.deepEqual(transcripts['in-process'], transcripts["exec'd"]);
  t.regex(transcripts['in-process']![1]!, /no IP addresses available in range set/);
  t.regex(transcripts['in-process']![6]!, /"code": 11/);
  t.deepEqual(seenWaiting['in-process'], [], 'no host-local process while the in-process one waits');
  t.is(seenWaiting["exec'd"]?.length, 1, `the exec'd host-local process waits: ${seenWaiting["exec'd"]}`);
});
