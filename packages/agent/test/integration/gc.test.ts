// Scheduled GC on a sandbox node: the agent asks a (fake) CRI runtime for its sandboxes over a
// unix socket and frees the reservations of a pod whose sandbox vanished without DEL; while the
// runtime cannot answer, nothing is collected.
import { writeFileSync } from 'node:fs';
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
      gc: { enabled: true, intervalSeconds: 1, graceSeconds: 0, criSocket: socket, timeoutSeconds: 1 },
      logLevel: 'debug',
    });
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
    cri.sandboxes = [{ id: live.id, name: 'live', namespace: 'default' }];
    // a pod whose sandbox vanished: its netns is gone, no DEL came, the runtime no longer lists it
    const lost = await pod('lost');
    await lost.ns.destroy();
    t.is(held().filter((id) => id === lost.id).length, 2, 'the lost pod holds an IPv4 and an IPv6 address');

    await agent.waitFor(/^GC collected leaked attachments$/);
    await sb.until(() => !held().includes(lost.id) || undefined, 'the lost pod to be released');
    t.deepEqual(held().sort(), [live.id, live.id], 'the live pod keeps both addresses');
    t.is(await sb.metric(n1, 'ipam_leaks'), 2);
    t.true((await sb.metric(n1, 'gc_released_total')) >= 2);

    // the runtime stops answering: nothing is collected, even though nothing is listed as valid
    cri.fail = 'runtime restarting';
    const runsBefore = await sb.metric(n1, 'gc_runs_total', '{result="skipped"}');
    const lost2 = await pod('lost2');
    await lost2.ns.destroy();
    await sb.until(
      async () => (await sb.metric(n1, 'gc_runs_total', '{result="skipped"}')) >= runsBefore + 2 || undefined,
      'two skipped runs',
    );
    t.true(held().includes(lost2.id), 'kept while the sandbox list cannot be read');
    t.true(held().includes(live.id));
    t.true(agent.lines.some((l) => /GC skipped.*runtime restarting/.test(l)));

    // the runtime answers again: the second lost pod goes too
    cri.fail = undefined;
    await sb.until(() => !held().includes(lost2.id) || undefined, 'the second lost pod to be released');
    t.deepEqual(held().sort(), [live.id, live.id]);
  },
);
