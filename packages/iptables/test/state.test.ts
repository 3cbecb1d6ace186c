import test from 'ava';
import { FakeExecutor } from '@cni-ts/testutils';
import {
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

test('saveTable and restore run one process per family with the right tool', (t) => {
  const exec = new FakeExecutor().on((c) => c.file.endsWith('-save'), { stdout: SAVED });
  const s6 = saveTable(exec, 6, 'nat');
  t.true(s6.chains.includes('CNI-own'));
  restore(exec, 4, [{ op: 'flush', table: 'nat', chain: 'CNI-own' }]);
  restore(exec, 6, []);
  t.deepEqual(exec.lines(), ['ip6tables-save -t nat', 'iptables-restore --noflush -w << *nat ; -F CNI-own ; COMMIT']);
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

test('a failing restore is a classified error', (t) => {
  const exec = new FakeExecutor().on(() => true, {
    status: 4,
    stderr: 'Another app is currently holding the xtables lock.',
  });
  const e = t.throws(() => restore(exec, 4, [{ op: 'flush', table: 'nat', chain: 'X' }]));
  t.is((e as { cniCode?: number }).cniCode, 11);
});
