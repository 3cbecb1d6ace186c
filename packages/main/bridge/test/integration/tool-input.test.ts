// What reaches the tools, through the built bridge executable: a CNI_NETNS path that the batch
// language cannot carry is refused (code 4) with nothing run and nothing left, a path it can
// carry works exactly; a held xtables lock and a hung tool are code 11 within their bounds.
import anyTest, { type TestFn } from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { lockFile } from '@cni-ts/process';
import { type Netns, SYSTEM_PATH } from '@cni-ts/testutils';
import { type World, worldTest, linkNames, mustAdd, natRules, netConf, nftRules, reservations, run } from './kit.js';

const test = worldTest(anyTest as TestFn<{ w: World }>, 'bt', 'bridge tool-input integration');

// Bind-mounts the pod's netns at each path (files under the world's directory); returns an
// unmount for after.always.
function bindNetns(pod: Netns, paths: readonly string[]): () => void {
  for (const p of paths) {
    writeFileSync(p, '');
    execFileSync('mount', ['--bind', pod.path, p]);
  }
  return () => {
    for (const p of paths) execFileSync('umount', [p], { stdio: 'ignore' });
  };
}

async function nodeIsClean(t: any, w: World, pod: Netns) {
  t.deepEqual(
    (await linkNames(w.node.node)).filter((n) => n !== 'lo'),
    [],
    'no link was created in the node (no bridge, no veth)',
  );
  t.deepEqual(await linkNames(pod), ['lo'], 'nothing in the pod');
  t.deepEqual(await natRules(w.node.node, 4), [], 'no iptables rules');
  t.notRegex(await nftRules(w.node.node), /cni-br-iface|masquerade comment/, 'no nft rules');
  t.deepEqual(reservations(w), [], 'no IPAM reservation');
}

test('a CNI_NETNS path holding a quote and a newline is refused with code 4; no extra command runs in the node', async (t) => {
  const { w } = t.context;
  const pod = await w.node.addPod('a');
  const dir = join(w.dir, 'ns');
  mkdirSync(dir);
  // With a backslash-escaping encoder, ip reads `<dir>/ns\` as the netns (so that path is a
  // netns too, and ADD would "succeed") and runs the second line as a command of its own.
  const evil = join(dir, 'ns" \nlink add name ctsevil type bridge\n#');
  const unmount = bindNetns(pod, [evil, join(dir, 'ns\\')]);
  try {
    const r = await run(w, 'ADD', evil, netConf(w, { isGateway: true, ipMasq: true }));
    t.false((await linkNames(w.node.node)).includes('ctsevil'), 'the injected command ran in the node');
    t.is(r.exitCode, 1, r.stdout);
    t.is(r.json.code, 4);
    t.regex(r.json.msg, /^invalid CNI_NETNS ".*": it cannot be written for ip -batch: it contains a newline/);
    await nodeIsClean(t, w, pod);
    const d = await run(w, 'DEL', evil, netConf(w, { isGateway: true, ipMasq: true }));
    t.is(d.exitCode, 0, `DEL after the refused ADD: ${d.stdout}`);
  } finally {
    unmount();
  }
});

test('a CNI_NETNS path holding quotes and a backslash that the language can carry works exactly', async (t) => {
  const { w } = t.context;
  const pod = await w.node.addPod('a');
  const dir = join(w.dir, 'ns');
  mkdirSync(dir);
  const odd = join(dir, `ns "a" \\`); // blank, double quotes, a trailing backslash: written in single quotes
  const unmount = bindNetns(pod, [odd]);
  try {
    const conf = netConf(w, { isGateway: true });
    const res = await mustAdd(t, w, pod, conf, {});
    t.is(res.interfaces[2].sandbox, pod.path);
    const r = await run(w, 'ADD', odd, conf, { containerId: 'ctr2', ifname: 'eth1' });
    t.is(r.exitCode, 0, r.stdout);
    t.is(r.json.interfaces[2].sandbox, odd, 'the result names CNI_NETNS as given');
    t.true((await linkNames(pod)).includes('eth1'), 'eth1 is in the namespace mounted at that path');
    t.is((await run(w, 'DEL', odd, conf, { containerId: 'ctr2', ifname: 'eth1' })).exitCode, 0);
    t.false((await linkNames(pod)).includes('eth1'));
  } finally {
    unmount();
  }
});

test('a held xtables lock is code 11 within the bounded wait, and the failed ADD leaves nothing', async (t) => {
  const { w } = t.context;
  const pod = await w.node.addPod('a');
  // legacy iptables (the nf_tables variant takes no lock) on a lock file of our own
  const bin = join(w.dir, 'legacy');
  mkdirSync(bin);
  for (const tool of ['iptables-restore', 'iptables-save', 'ip6tables-restore', 'ip6tables-save'])
    symlinkSync('/usr/sbin/xtables-legacy-multi', join(bin, tool));
  const lockPath = join(w.dir, 'xtables.lock');
  const lock = await lockFile(lockPath, { timeoutMs: 1000 });
  try {
    const start = Date.now();
    const r = await run(w, 'ADD', pod, netConf(w, { isGateway: true, ipMasq: true, ipMasqBackend: 'iptables' }), {
      env: { PATH: `${bin}:${SYSTEM_PATH}`, XTABLES_LOCKFILE: lockPath },
    });
    const took = Date.now() - start;
    t.is(r.exitCode, 1, r.stdout);
    t.is(r.json.code, 11);
    t.regex(r.json.msg, /xtables lock is held by another program \(waited 5 s\); try again later/);
    t.true(took < 12_000, `answered after ${took} ms`);
    await nodeIsCleanButBridge(t, w, pod);
  } finally {
    lock.release();
  }
});

test('a hung tool is killed after its timeout and the ADD answers code 11, leaving nothing', async (t) => {
  const { w } = t.context;
  const pod = await w.node.addPod('a');
  const bin = join(w.dir, 'hung');
  mkdirSync(bin);
  writeFileSync(join(bin, 'nft'), '#!/bin/sh\nexec sleep 120\n', { mode: 0o755 });
  const start = Date.now();
  const r = await run(w, 'ADD', pod, netConf(w, { isGateway: true, macspoofchk: true }), {
    env: { PATH: `${bin}:${SYSTEM_PATH}` },
  });
  const took = Date.now() - start;
  t.is(r.exitCode, 1, r.stdout);
  t.is(r.json.code, 11);
  // the node has no `bridge nat` table yet, so nothing is listed (the kernel says so without nft):
  // the first nft that runs, and hangs, is the spoof check's script
  t.regex(r.json.msg, /nft -f -: did not finish within 15 s and was killed/);
  t.true(took < 30_000, `answered after ${took} ms`);
  await nodeIsCleanButBridge(t, w, pod);
});

// After a failed ADD the shared bridge may stay (as upstream); nothing of the pod does.
async function nodeIsCleanButBridge(t: any, w: World, pod: Netns) {
  t.deepEqual(
    (await linkNames(w.node.node)).filter((n) => n.startsWith('veth')),
    [],
    'no veth in the node',
  );
  t.deepEqual(await linkNames(pod), ['lo'], 'nothing in the pod');
  t.deepEqual(await natRules(w.node.node, 4), [], 'no iptables rules');
  t.deepEqual(reservations(w), [], 'no IPAM reservation');
}
