// Scheduled GC on a sandbox node: the agent asks a (fake) CRI runtime for its sandboxes over a
// unix socket and frees the reservations of a pod whose sandbox vanished without DEL; while the
// runtime cannot answer, nothing is collected.
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { rootTest, uniquePrefix } from '@cni-ts/testutils';
import anyTest, { type TestFn } from 'ava';
import { readReservations } from '../../src/gc.js';
import { FakeCri } from '../fixtures/fake-cri.js';
import { Sandbox } from './sandbox.js';

const test = rootTest(anyTest as TestFn, import.meta.url);

test.serial(
  'GC frees what no sandbox of the runtime holds, and collects nothing when the runtime cannot answer',
  async (t) => {
    const sb = new Sandbox(uniquePrefix('ag'));
    const cri = new FakeCri();
    t.teardown(async () => {
      cri.close();
      await sb.destroy();
    });
    const socket = join(sb.work, 'containerd.sock');
    await cri.listen(socket);
    await sb.start();
    const n1 = await sb.addNode(1);
    const nodesFile = join(sb.work, 'nodes.yaml');
    writeFileSync(
      nodesFile,
      JSON.stringify({ nodes: [{ name: n1.name, podCIDRs: n1.podCIDRs, internalIPs: [n1.ip4, n1.ip6] }] }),
    );
    sb.writeConfig(n1, {
      nodes: { source: 'static', file: nodesFile },
      gc: {
        enabled: true,
        intervalSeconds: 1,
        graceSeconds: 0,
        criSocket: socket,
        timeoutSeconds: 1,
        cacheDir: n1.cacheDir,
      },
      logLevel: 'debug',
    });
    // the runtime cannot answer yet: nothing is collected, although nothing is listed as valid
    cri.fail = 'runtime starting';
    const agent = sb.startAgent(n1);
    await agent.waitFor(/^node ready$/);

    const pod = async (name: string) => {
      const ns = await sb.netns(`${n1.name}-${name}`);
      const id = `${sb.prefix}-${name}`;
      await n1.runtime.add(sb.conflist(n1), { containerId: id, netns: ns.path, ifname: 'eth0' });
      return { ns, id };
    };
    const held = () => readReservations(n1.dataDir, 'cni-ts').map((r) => r.containerID);
    const live = await pod('live');
    // a pod whose sandbox vanished: its netns is gone, no DEL came, the runtime will not list it
    const lost = await pod('lost');
    await lost.ns.destroy();
    await sb.until(
      async () => (await sb.metric(n1, 'gc_runs_total', '{result="skipped"}')) >= 2 || undefined,
      'two skipped runs',
    );
    t.deepEqual(held().sort(), [live.id, live.id, lost.id, lost.id].sort(), 'all kept while the list cannot be read');
    t.true(agent.lines.some((l) => /GC skipped.*runtime starting/.test(l)));
    t.is(await sb.metric(n1, 'gc_runs_total', '{result="ok"}'), 0);

    // the runtime answers: the lost pod's two addresses are freed, the live pod keeps its own
    const lostIps = readReservations(n1.dataDir, 'cni-ts')
      .filter((r) => r.containerID === lost.id)
      .map((r) => r.ip)
      .sort();
    cri.sandboxes = [{ id: live.id, name: 'live', namespace: 'default' }];
    cri.fail = undefined;
    // the run that collected says what it found (the ipam_leaks gauge is the last run's: with runs
    // a second apart, a loaded machine reads it after the next run has found nothing)
    const collected = await agent.waitFor(/^GC collected leaked attachments$/);
    t.is(collected.leaks, 2);
    t.deepEqual([...(collected.leaked as string[])].sort(), lostIps);
    t.is(collected.released, 2);
    await sb.until(() => !held().includes(lost.id) || undefined, 'the lost pod to be released');
    t.deepEqual(held(), [live.id, live.id]);
    await sb.until(async () => (await sb.metric(n1, 'ipam_leaks')) === 0 || undefined, 'a later run to find no leak');
    t.is(await sb.metric(n1, 'gc_released_total'), 2);
    t.is(await sb.metric(n1, 'ipam_reservations'), 2);
    // libcni's GC ran a DEL for the lost pod's cached attachment: its cache entry is gone, the live one's kept
    const cached = () => readdirSync(join(n1.cacheDir, 'results'));
    await sb.until(() => !cached().some((f) => f.includes(lost.id)) || undefined, 'the lost pod’s cache entry to go');
    t.true(cached().some((f) => f.includes(live.id)));
  },
);
