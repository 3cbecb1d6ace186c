import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import type { Sandbox, SandboxLister } from '../src/cri.js';
import { type Attachment, GcScheduler, leakedReservations, readReservations } from '../src/gc.js';
import { jsonLogger } from '../src/log.js';
import { agentMetrics } from '../src/metrics.js';

// a host-local store as the plugin writes it: <dataDir>/<network>/<ip> = "<id>\r\n<ifname>"
function store(entries: Record<string, string>) {
  const dataDir = mkdtempSync(join(tmpdir(), 'cts-agent-gc-'));
  const dir = join(dataDir, 'cni-ts');
  mkdirSync(dir);
  writeFileSync(join(dir, 'lock'), '');
  writeFileSync(join(dir, 'last_reserved_ip.0'), '10.244.1.4');
  for (const [ip, holder] of Object.entries(entries)) writeFileSync(join(dir, ip), holder);
  return { dataDir, dir };
}

test('reservations are read from the store; lock and cursor files are not reservations', (t) => {
  const { dataDir } = store({ '10.244.1.2': 'aaa\r\neth0', 'fd00::2': 'aaa\r\neth0', '10.244.1.3': 'bbb\r\neth0' });
  const res = readReservations(dataDir, 'cni-ts')
    .sort((a, b) => a.ip.localeCompare(b.ip))
    .map(({ mtimeMs, ...r }) => {
      t.true(Date.now() - mtimeMs < 60_000);
      return r;
    });
  t.deepEqual(res, [
    { ip: '10.244.1.2', containerID: 'aaa', ifname: 'eth0' },
    { ip: '10.244.1.3', containerID: 'bbb', ifname: 'eth0' },
    { ip: 'fd00::2', containerID: 'aaa', ifname: 'eth0' },
  ]);
  t.deepEqual(
    leakedReservations(
      res.map((r) => ({ ...r, mtimeMs: 0 })),
      [{ containerID: 'aaa', ifname: 'eth0' }],
    ).map((r) => r.ip),
    ['10.244.1.3'],
  );
  t.deepEqual(readReservations(dataDir, 'other'), []);
  rmSync(dataDir, { recursive: true });
});

function lister(result: Sandbox[] | Error): SandboxLister {
  return {
    listSandboxes: async () => {
      if (result instanceof Error) throw result;
      return result;
    },
    close() {},
  };
}

const sandbox = (id: string): Sandbox => ({ id, state: 'SANDBOX_READY', name: id, namespace: 'default' });

function scheduler(lst: SandboxLister, collect: (valid: Attachment[]) => Promise<void>, dataDir: string, graceMs = 0) {
  const metrics = agentMetrics();
  const lines: string[] = [];
  const gc = new GcScheduler(
    { intervalMs: 60_000, graceMs, ifname: 'eth0', network: 'cni-ts', dataDir },
    { lister: lst, collect, log: jsonLogger({ write: (l) => lines.push(l), level: 'debug' }), metrics },
  );
  return { gc, metrics, lines };
}

test('a run passes every sandbox as a valid attachment and counts leaks and what was freed', async (t) => {
  const { dataDir, dir } = store({ '10.244.1.2': 'live\r\neth0', '10.244.1.3': 'gone\r\neth0' });
  let seen: Attachment[] = [];
  const { gc, metrics } = scheduler(
    lister([sandbox('live'), sandbox('idle')]),
    async (valid) => {
      seen = valid;
      rmSync(join(dir, '10.244.1.3')); // what the plugins' GC does to the leaked reservation
    },
    dataDir,
  );
  t.deepEqual(await gc.runOnce(), { result: 'ok', reservations: 1, leaks: 1, released: 1 });
  t.deepEqual(seen, [
    { containerID: 'live', ifname: 'eth0' },
    { containerID: 'idle', ifname: 'eth0' },
  ]);
  t.is(metrics.get('ipam_leaks'), 1);
  t.is(metrics.get('ipam_reservations'), 1);
  t.is(metrics.get('gc_released_total'), 1);
  t.is(metrics.get('gc_runs_total', { result: 'ok' }), 1);
  rmSync(dataDir, { recursive: true });
});

test('when the sandbox list cannot be read, nothing is collected', async (t) => {
  const { dataDir, dir } = store({ '10.244.1.2': 'live\r\neth0' });
  let called = false;
  const { gc, metrics, lines } = scheduler(
    lister(new Error('ListPodSandbox on /run/containerd/containerd.sock failed: connection refused')),
    async () => {
      called = true;
    },
    dataDir,
  );
  const r = await gc.runOnce();
  t.is(r.result, 'skipped');
  t.false(called, 'the collector never ran');
  t.is(readdirSync(dir).length, 3, 'the store is untouched');
  t.is(metrics.get('gc_runs_total', { result: 'skipped' }), 1);
  t.regex(lines.join(''), /GC skipped.*connection refused/);
  rmSync(dataDir, { recursive: true });
});

test('a failing collector is reported and counted, and a run in progress is joined, not doubled', async (t) => {
  const { dataDir } = store({});
  let runs = 0;
  const { gc, metrics } = scheduler(
    lister([]),
    async () => {
      runs += 1;
      await new Promise((r) => setTimeout(r, 50));
      throw new Error('bridge: code 11: try again');
    },
    dataDir,
  );
  const [a, b] = await Promise.all([gc.runOnce(), gc.runOnce()]);
  t.is(runs, 1);
  t.deepEqual(a, { result: 'error', reason: 'bridge: code 11: try again' });
  t.is(a, b);
  t.is(metrics.get('gc_runs_total', { result: 'error' }), 1);
  rmSync(dataDir, { recursive: true });
});

test('a reservation younger than the grace period is passed as valid: GC never races an ADD in progress', async (t) => {
  const { dataDir, dir } = store({ '10.244.1.2': 'adding\r\neth0', '10.244.1.3': 'old\r\neth0' });
  const { utimesSync } = await import('node:fs');
  const hourAgo = new Date(Date.now() - 3600_000);
  utimesSync(join(dir, '10.244.1.3'), hourAgo, hourAgo);
  let seen: Attachment[] = [];
  const { gc } = scheduler(
    lister([sandbox('live')]),
    async (valid) => {
      seen = valid;
    },
    dataDir,
    300_000,
  );
  const r = await gc.runOnce();
  t.deepEqual(seen, [
    { containerID: 'live', ifname: 'eth0' },
    { containerID: 'adding', ifname: 'eth0' },
  ]);
  t.like(r, { result: 'ok', leaks: 1 }, 'only the hour-old reservation is a leak');
  rmSync(dataDir, { recursive: true });
});
