import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProcessError, lockFile } from '@cni-ts/process';
import { FakeExecutor, SYSTEM_PATH, ScratchNetns } from '@cni-ts/testutils';
import {
  XTABLES_WAIT_S,
  chainExists,
  deleteRule,
  ensureChain,
  ensureRule,
  parseSave,
  removeChain,
  restore,
  rule,
  rulesJumpingTo,
  saveTable,
  saveTables,
} from '../src/index.js';

const SAVED = `*nat
:POSTROUTING ACCEPT [0:0]
:CNI-HOSTPORT-DNAT - [0:0]
:CNI-own - [0:0]
-A POSTROUTING -s 10.0.0.2/32 -j CNI-own
-A POSTROUTING -s 10.0.0.3/32 -j CNI-own
-A CNI-own -j MASQUERADE
COMMIT
`;
const state = parseSave(SAVED, 'nat');

test('ensureRule appends only what is missing; deleteRule deletes only what is there', (t) => {
  const present = rule('nat', 'CNI-own', '-j', 'MASQUERADE');
  const absent = rule('nat', 'CNI-own', '-j', 'ACCEPT');
  t.deepEqual(ensureRule(state, present), []);
  t.deepEqual(ensureRule(state, absent), [{ op: 'append', rule: absent }]);
  t.deepEqual(deleteRule(state, present), [{ op: 'delete', rule: present }]);
  t.deepEqual(deleteRule(state, absent), []);
});

test('ensureChain never declares (and so never flushes) an existing shared chain', (t) => {
  t.deepEqual(ensureChain(state, 'CNI-HOSTPORT-DNAT'), []);
  t.deepEqual(ensureChain(state, 'POSTROUTING'), [], 'built-in chains exist even when not listed');
  t.deepEqual(ensureChain(state, 'CNI-new'), [{ op: 'declare', table: 'nat', chain: 'CNI-new' }]);
  t.true(chainExists(state, 'OUTPUT'));
});

test('removeChain deletes every jump to the chain, then flushes and deletes it', (t) => {
  t.is(rulesJumpingTo(state, 'CNI-own').length, 2);
  t.deepEqual(removeChain(state, 'CNI-own'), [
    { op: 'delete', rule: rule('nat', 'POSTROUTING', '-s', '10.0.0.2/32', '-j', 'CNI-own') },
    { op: 'delete', rule: rule('nat', 'POSTROUTING', '-s', '10.0.0.3/32', '-j', 'CNI-own') },
    { op: 'flush', table: 'nat', chain: 'CNI-own' },
    { op: 'deleteChain', table: 'nat', chain: 'CNI-own' },
  ]);
  t.deepEqual(removeChain(state, 'CNI-gone'), []);
});

test('saveTable and restore run one process per family with the right tool and a bounded lock wait', (t) => {
  const exec = new FakeExecutor().on((c) => c.file.endsWith('-save'), { stdout: SAVED });
  const s6 = saveTable(exec, 6, 'nat');
  t.true(s6.chains.includes('CNI-own'));
  restore(exec, 4, [{ op: 'flush', table: 'nat', chain: 'CNI-own' }]);
  restore(exec, 6, []);
  t.deepEqual(exec.lines(), [
    'ip6tables-save -t nat',
    `iptables-restore --noflush -w ${XTABLES_WAIT_S} << *nat ; -F CNI-own ; COMMIT`,
  ]);
  t.true(XTABLES_WAIT_S > 0 && XTABLES_WAIT_S <= 10, "a bounded wait, well below a runtime's patience");
});

test('saveTables reads several tables with one iptables-save, one table with -t', (t) => {
  const all = `${SAVED}*filter\n:INPUT ACCEPT [0:0]\n:CNI-f - [0:0]\n-A INPUT -j CNI-f\nCOMMIT\n`;
  const exec = new FakeExecutor().on((c) => c.file.endsWith('-save'), { stdout: all });
  const both = saveTables(exec, 4, ['nat', 'filter']);
  t.deepEqual(both.filter.chains, ['INPUT', 'CNI-f']);
  t.true(both.nat.chains.includes('CNI-own'));
  t.false(both.nat.chains.includes('CNI-f'));
  t.deepEqual(saveTables(exec, 6, ['mangle']).mangle.rules, []);
  t.deepEqual(exec.lines(), ['iptables-save', 'ip6tables-save -t mangle']);
});

// The real lock: legacy iptables-restore (the nf_tables variant has no lock) in a scratch netns,
// on a lock file of our own (XTABLES_LOCKFILE), held by flock(1) — never /run/xtables.lock.
test('a held xtables lock is code 11 within the bounded wait, saying the lock is held', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cts-xt-'));
  const ns = await ScratchNetns.start();
  const lock = join(dir, 'xtables.lock');
  writeFileSync(lock, '');
  for (const tool of ['iptables-restore', 'iptables-save'])
    symlinkSync('/usr/sbin/xtables-legacy-multi', join(dir, tool));
  const held = await lockFile(lock, { timeoutMs: 1000 });
  try {
    t.not(spawnSync('flock', ['-n', lock, 'true']).status, 0, 'the lock is held');
    const exec = ns.execWith({ PATH: `${dir}:${SYSTEM_PATH}`, XTABLES_LOCKFILE: lock });
    const start = Date.now();
    const e = t.throws(() => restore(exec, 4, [{ op: 'declare', table: 'nat', chain: 'CTS-LOCK' }]), {
      instanceOf: ProcessError,
    });
    const waited = Date.now() - start;
    t.is(e?.kind, 'busy');
    t.is(e?.cniCode, 11);
    t.regex(e!.message, /xtables lock is held by another program \(waited 5 s\); try again later/);
    t.true(waited >= XTABLES_WAIT_S * 1000 - 500 && waited < (XTABLES_WAIT_S + 5) * 1000, `waited ${waited} ms`);
    held.release();
    restore(exec, 4, [{ op: 'declare', table: 'nat', chain: 'CTS-LOCK' }]);
    t.true(saveTable(exec, 4, 'nat').chains.includes('CTS-LOCK'), 'once the lock is free the same restore works');
  } finally {
    held.release();
    ns.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
