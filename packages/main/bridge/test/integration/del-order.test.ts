// DEL's order against the kernel's waits (docs/performance.md, "bridge DEL: the masquerade rules'
// grace period overlapped"): the masquerade rules' nf_tables batch is sent before the pod veth's
// RTM_DELLINK, and the batch's nfnetlink socket is closed only after it (the release waits for the
// deletion's grace period; held open, that wait overlaps the veth's). Read from strace of our
// bridge's DEL on a real pod; the effects checked too: rules, veth and reservation gone, and a
// second DEL, a DEL after the sandbox is gone, clean and succeed.
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import anyTest, { type TestFn } from 'ava';
import { type World, OURS, linkNames, mustAdd, natRules, netConf, reservations, run, worldTest } from './kit.js';

const test = worldTest(anyTest as TestFn<{ w: World }>, 'bo', 'bridge DEL order');

// A wrapper that runs our bridge under strace (sockets, writes as hex, closes; every thread).
function traced(w: World): { plugin: string; log: string } {
  const log = join(w.dir, 'del.strace');
  const plugin = join(w.dir, 'bridge-traced');
  writeFileSync(plugin, `#!/bin/sh\nexec strace -f -qq -xx -s 64 -e trace=socket,write,close -o ${log} ${OURS}\n`);
  chmodSync(plugin, 0o755);
  return { plugin, log };
}

// The events of a trace, in order: nfnetlink batches sent, RTM_DELLINKs sent, nfnetlink sockets closed.
function events(trace: string): string[] {
  const kind = new Map<string, string>(); // fd -> 'nf' | 'rt' (per process: fds are shared by threads)
  const out: string[] = [];
  for (const line of trace.split('\n')) {
    const sock = /^(\d+)\s+socket\(AF_NETLINK, [^)]*NETLINK_(NETFILTER|ROUTE)\) = (\d+)/.exec(line);
    if (sock) {
      kind.set(sock[3]!, sock[2] === 'NETFILTER' ? 'nf' : 'rt');
      continue;
    }
    const wr = /^(\d+)\s+write\((\d+), "((?:\\x[0-9a-f]{2}){6})/.exec(line);
    if (wr) {
      const b = wr[3]!.match(/[0-9a-f]{2}/g)!.map((h) => Number.parseInt(h, 16));
      const type = b[4]! | (b[5]! << 8);
      if (kind.get(wr[2]!) === 'nf' && type === 0x10) out.push('nf batch');
      if (kind.get(wr[2]!) === 'rt' && type === 17) out.push('dellink');
      continue;
    }
    const cl = /^(\d+)\s+close\((\d+)\)/.exec(line);
    if (cl && kind.has(cl[2]!)) {
      if (kind.get(cl[2]!) === 'nf') out.push('nf close');
      kind.delete(cl[2]!);
    }
  }
  return out;
}

test('DEL sends the masquerade batch before RTM_DELLINK and closes its socket after; everything is gone and DEL repeats', async (t) => {
  const { w } = t.context;
  const conf = netConf(w, { isGateway: true, ipMasq: true });
  const pod = await w.node.addPod('p');
  await mustAdd(t, w, pod, conf);
  t.true((await natRules(w.node.node)).some((r) => r.includes('MASQUERADE')));
  const { plugin, log } = traced(w);
  const del = await run(w, 'DEL', pod, conf, { plugin });
  t.is(del.exitCode, 0, del.stderr);
  const seen = events(readFileSync(log, 'utf8'));
  const batch = seen.indexOf('nf batch');
  const dellink = seen.indexOf('dellink');
  t.true(batch >= 0 && dellink >= 0, seen.join(', '));
  t.true(batch < dellink, `the rules' batch before the veth's deletion: ${seen.join(', ')}`);
  t.true(
    seen.slice(batch).indexOf('nf close') > dellink - batch,
    `the batch's socket closed after the deletion: ${seen.join(', ')}`,
  );
  t.deepEqual(await natRules(w.node.node), [], 'no masquerade rule or chain left');
  t.deepEqual(
    (await linkNames(w.node.node)).filter((n) => n.startsWith('veth')),
    [],
    'the host veth is gone',
  );
  t.false((await linkNames(pod)).includes('eth0'));
  t.deepEqual(reservations(w), []);
  const again = await run(w, 'DEL', pod, conf);
  t.is(again.exitCode, 0, again.stderr);
  // after the sandbox is gone (a pod ADDed again, its netns removed before DEL)
  const gone = await w.node.addPod('g');
  await mustAdd(t, w, gone, conf, { containerId: 'g' });
  const path = gone.path;
  await w.node.removePod(gone);
  const late = await run(w, 'DEL', path, conf, { containerId: 'g' });
  t.is(late.exitCode, 0, late.stderr);
  t.deepEqual(await natRules(w.node.node), [], 'the gone pod rules removed too');
  t.deepEqual(reservations(w), []);
});
