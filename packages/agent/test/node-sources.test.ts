import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { jsonLogger } from '../src/log.js';
import { kubeNodeSource, staticNodeSource } from '../src/node-sources.js';
import type { NodeInfo } from '../src/nodes.js';
import { FakeApiServer } from './fixtures/fake-apiserver.js';

const quiet = jsonLogger({ write: () => {} });

// collects every list the source emits and waits for one that satisfies `ok`
function collector() {
  const seen: NodeInfo[][] = [];
  const waiters: Array<{ ok: (n: NodeInfo[]) => boolean; resolve: (n: NodeInfo[]) => void }> = [];
  return {
    onChange(nodes: NodeInfo[]) {
      seen.push(nodes);
      for (const w of [...waiters]) if (w.ok(nodes)) w.resolve(nodes);
    },
    until(ok: (n: NodeInfo[]) => boolean, ms = 5000): Promise<NodeInfo[]> {
      const last = seen.at(-1);
      if (last && ok(last)) return Promise.resolve(last);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out; last list: ${JSON.stringify(seen.at(-1))}`)), ms);
        waiters.push({
          ok,
          resolve: (n) => {
            clearTimeout(timer);
            resolve(n);
          },
        });
      });
    },
  };
}

const names = (n: NodeInfo[]) => n.map((x) => x.name).sort();

test('the Kubernetes source lists, then follows the watch: added, changed and deleted nodes', async (t) => {
  const api = new FakeApiServer();
  api.setNode({ name: 'a', podCIDRs: ['10.244.1.0/24'], internalIPs: ['10.0.0.1'] });
  const url = await api.listen();
  const source = kubeNodeSource({ apiServer: url }, quiet, 100);
  const c = collector();
  try {
    await source.start(c.onChange);
    t.deepEqual(names(await c.until((n) => n.length === 1)), ['a']);
    api.setNode({ name: 'b', podCIDRs: ['10.244.2.0/24'], internalIPs: ['10.0.0.2'] });
    t.deepEqual(names(await c.until((n) => n.length === 2)), ['a', 'b']);
    api.setNode({ name: 'b', podCIDRs: ['10.244.2.0/24', 'fd00:2::/64'], internalIPs: ['10.0.0.2'] });
    await c.until((n) => n.find((x) => x.name === 'b')?.podCIDRs.length === 2);
    api.deleteNode('a');
    t.deepEqual(names(await c.until((n) => n.length === 1)), ['b']);
    t.true(api.requests.some((r) => r.startsWith('GET /api/v1/nodes?') && r.includes('watch=true')));
  } finally {
    await source.stop();
    await api.close();
  }
});

test('the Kubernetes source reconnects after the watch ends and catches up on what it missed', async (t) => {
  const api = new FakeApiServer();
  api.setNode({ name: 'a', podCIDRs: ['10.244.1.0/24'], internalIPs: ['10.0.0.1'] });
  const url = await api.listen();
  const source = kubeNodeSource({ apiServer: url }, quiet, 100);
  const c = collector();
  try {
    await source.start(c.onChange);
    await c.until((n) => n.length === 1);
    api.dropWatches();
    api.setNode({ name: 'c', podCIDRs: ['10.244.3.0/24'], internalIPs: ['10.0.0.3'] });
    t.deepEqual(names(await c.until((n) => n.length === 2)), ['a', 'c']);
  } finally {
    await source.stop();
    await api.close();
  }
});

test('the Kubernetes source lists again after 410 Gone (its resourceVersion was compacted away)', async (t) => {
  const api = new FakeApiServer();
  api.setNode({ name: 'a', podCIDRs: ['10.244.1.0/24'], internalIPs: ['10.0.0.1'] });
  const url = await api.listen();
  const source = kubeNodeSource({ apiServer: url }, quiet, 100);
  const c = collector();
  try {
    await source.start(c.onChange);
    await c.until((n) => n.length === 1);
    const lists = () => api.requests.filter((r) => !r.includes('watch=true')).length;
    const before = lists();
    // what the informer last saw is now too old to watch from: it must list again to catch up
    api.oldestRv = api.resourceVersion + 1;
    api.dropWatches();
    api.setNode({ name: 'b', podCIDRs: ['10.244.2.0/24'], internalIPs: ['10.0.0.2'] });
    api.deleteNode('a');
    t.deepEqual(names(await c.until((n) => n.length === 1 && n[0]?.name === 'b')), ['b']);
    t.true(lists() > before, 'a new list was made');
  } finally {
    await source.stop();
    await api.close();
  }
});

test('the Kubernetes source emits nothing while the API cannot be listed, then the full list', async (t) => {
  const api = new FakeApiServer();
  api.setNode({ name: 'a', podCIDRs: ['10.244.1.0/24'], internalIPs: ['10.0.0.1'] });
  const url = await api.listen();
  api.failLists = 2; // the API server is not answering yet
  const source = kubeNodeSource({ apiServer: url }, quiet, 50);
  const seen: NodeInfo[][] = [];
  const c = collector();
  try {
    await source.start((n) => {
      seen.push(n);
      c.onChange(n);
    });
    t.deepEqual(names(await c.until((n) => n.length === 1)), ['a']);
    t.deepEqual(
      seen.map((n) => n.length),
      seen.map(() => 1),
      'never an empty list (it would remove every route)',
    );
    t.true(api.requests.filter((r) => !r.includes('watch=true')).length >= 3);
  } finally {
    await source.stop();
    await api.close();
  }
});

test('the static source re-reads its file when it is replaced, and keeps the last list on a bad one', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cts-agent-static-'));
  const file = join(dir, 'nodes.yaml');
  const write = (text: string) => {
    writeFileSync(`${file}.tmp`, text);
    renameSync(`${file}.tmp`, file);
  };
  write('nodes: [{name: a, podCIDRs: [10.244.1.0/24], internalIPs: [10.0.0.1]}]');
  const lines: string[] = [];
  const source = staticNodeSource(file, jsonLogger({ write: (l) => lines.push(l) }), 50);
  const c = collector();
  try {
    await source.start(c.onChange);
    t.deepEqual(names(await c.until((n) => n.length === 1)), ['a']);
    write('nodes: [{name: a}, {name: b, podCIDRs: [10.244.2.0/24], internalIPs: [10.0.0.2]}]\n');
    t.deepEqual(names(await c.until((n) => n.length === 2)), ['a', 'b']);
    write('nodes: {broken');
    await new Promise((r) => setTimeout(r, 300));
    t.regex(lines.join(''), /cannot read the static node list/);
  } finally {
    await source.stop();
    rmSync(dir, { recursive: true });
  }
});
