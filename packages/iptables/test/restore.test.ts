// iptables-restore text: the layout of a batch, and every value written by restoreToken read
// back by the real iptables-restore in a scratch netns — checked with `iptables -C`, which takes
// the value as an argument (no text language), so nothing here repeats the encoder.
import test from 'ava';
import { ProcessError, UnencodableError } from '@cni-ts/process';
import { AWKWARD_VALUES, ScratchNetns, TEST_SEED, generatedValues } from '@cni-ts/testutils';
import {
  type Change,
  MAX_RESTORE_LINE,
  parseSave,
  renderRestore,
  restore,
  restoreChain,
  restoreToken,
  rule,
  saveTable,
  splitArgs,
} from '../src/index.js';

let ns: ScratchNetns;
test.before(async () => {
  ns = await ScratchNetns.start();
});
test.after.always(() => ns?.stop());

const VALUES = [...new Set([...AWKWARD_VALUES, ...generatedValues(TEST_SEED, 150)])];
const carried = (v: string) => !/[\n\0]/.test(v);

test('restore text: one section per table, declarations first, -N in place, then the changes in order', (t) => {
  const changes: Change[] = [
    { op: 'append', rule: rule('nat', 'CNI-x', '-d', '10.0.0.0/24', '-j', 'ACCEPT') },
    { op: 'declare', table: 'nat', chain: 'CNI-x' },
    { op: 'create', table: 'filter', chain: 'CNI-FW' },
    { op: 'insert', rule: rule('filter', 'FORWARD', '-j', 'CNI-FW'), position: 1 },
    { op: 'delete', rule: rule('nat', 'POSTROUTING', '-s', '10.0.0.2/32', '-j', 'CNI-x') },
    { op: 'flush', table: 'nat', chain: 'CNI-y' },
    { op: 'deleteChain', table: 'nat', chain: 'CNI-y' },
  ];
  t.is(
    renderRestore(changes),
    [
      '*nat',
      ':CNI-x - [0:0]',
      '-A CNI-x -d 10.0.0.0/24 -j ACCEPT',
      '-D POSTROUTING -s 10.0.0.2/32 -j CNI-x',
      '-F CNI-y',
      '-X CNI-y',
      'COMMIT',
      '*filter',
      '-N CNI-FW',
      '-I FORWARD 1 -j CNI-FW',
      'COMMIT',
      '',
    ].join('\n'),
  );
});

test.serial(`iptables-restore reads back every comment restoreToken writes (seed ${TEST_SEED})`, (t) => {
  const values = VALUES.filter(carried);
  const comment = (v: string) => ['-m', 'comment', '--comment', v, '-j', 'ACCEPT'];
  restore(ns.exec, 4, [
    { op: 'declare', table: 'filter', chain: 'CTS-VAL' },
    ...values.map((v): Change => ({ op: 'append', rule: rule('filter', 'CTS-VAL', ...comment(v)) })),
  ]);
  for (const v of values) {
    const r = ns.exec.run('iptables', ['-t', 'filter', '-C', 'CTS-VAL', ...comment(v)]);
    t.is(r.status, 0, `no rule with the comment ${JSON.stringify(v)}: ${r.stderr}`);
  }
  const saved = saveTable(ns.exec, 4, 'filter');
  t.is(saved.rules.filter((r) => r.chain === 'CTS-VAL').length, values.length, 'one rule per value, none extra');
  t.deepEqual(
    saved.rules.filter((r) => r.chain === 'CTS-VAL').map((r) => r.spec[3]),
    values,
    'splitArgs reads iptables-save back to the same values',
  );
});

test(`restoreToken refuses only a newline or NUL; a chain name must be a plain word (seed ${TEST_SEED})`, (t) => {
  for (const v of VALUES) {
    if (carried(v)) t.notThrows(() => restoreToken(v), JSON.stringify(v));
    else t.is(t.throws(() => restoreToken(v), { instanceOf: UnencodableError })?.value, v);
  }
  for (const bad of ['', 'a b', 'a"b', '-x', '!x', 'a\tb', 'a\nb']) {
    t.throws(() => restoreChain(bad), { instanceOf: UnencodableError }, JSON.stringify(bad));
  }
  t.is(restoreChain('CNI-5145007e2a8415ce07579739'), 'CNI-5145007e2a8415ce07579739');
});

test.serial('what restoreToken refuses is real: a newline, even quoted, starts a new rule', (t) => {
  ns.exec.run('iptables-restore', ['--noflush'], {
    // the value 'x\n-A CTS-NL -j DROP\n-A CTS-NL -m comment --comment y', double-quoted as-is
    input:
      '*filter\n:CTS-NL - [0:0]\n' +
      '-A CTS-NL -m comment --comment "x\n-A CTS-NL -j DROP\n-A CTS-NL -m comment --comment y" -j ACCEPT\nCOMMIT\n',
  });
  const rules = parseSave(ns.exec.run('iptables-save', ['-t', 'filter']).stdout, 'filter').rules;
  t.true(
    rules.some((r) => r.chain === 'CTS-NL' && r.spec.join(' ') === '-j DROP'),
    'the text after the newline became a rule of its own',
  );
});

test.serial('a line longer than iptables-restore reads whole is refused; the longest it reads works', (t) => {
  // comment matches of 200 characters, then padding, to a line of exactly `n` bytes
  const lineOf = (n: number): Change => {
    const spec: string[] = [];
    const head = '-A CTS-LONG'.length;
    const tail = ' -j ACCEPT'.length;
    let len = head + tail;
    const each = ' -m comment --comment '.length;
    while (n - len - (each + 200) > each) {
      spec.push('-m', 'comment', '--comment', 'y'.repeat(200));
      len += each + 200;
    }
    spec.push('-m', 'comment', '--comment', 'y'.repeat(n - len - each));
    return { op: 'append', rule: rule('filter', 'CTS-LONG', ...spec, '-j', 'ACCEPT') };
  };
  const fits = lineOf(MAX_RESTORE_LINE);
  t.is(renderRestore([fits]).split('\n')[1]!.length, MAX_RESTORE_LINE);
  t.notThrows(() => renderRestore([lineOf(MAX_RESTORE_LINE)]));
  restore(ns.exec, 4, [{ op: 'declare', table: 'filter', chain: 'CTS-LONG' }, fits]);
  t.is(saveTable(ns.exec, 4, 'filter').rules.filter((r) => r.chain === 'CTS-LONG').length, 1);
  const e = t.throws(() => renderRestore([lineOf(MAX_RESTORE_LINE + 2)]), { instanceOf: UnencodableError });
  t.regex(e!.why, /10240|10238/);
  // what the refusal prevents: two bytes more, and iptables-restore cuts the line and reads its
  // last byte ("T" of ACCEPT) as a line of its own
  const raw = renderRestore([fits]).replace(' -j ACCEPT', '   -j ACCEPT');
  const r = ns.exec.run('iptables-restore', ['--noflush', '--test'], { input: raw });
  t.not(r.status, 0);
  t.regex(r.stderr, /Bad argument `T'\nError occurred at line: 3/);
});

test('quoting round-trips through splitArgs', (t) => {
  const args = ['-m', 'comment', '--comment', 'name: "n" id: "c"', '', 'a\\b', "it's"];
  t.deepEqual(splitArgs(args.map(restoreToken).join(' ')), args);
});

const SAVED = `# Generated by iptables-save v1.8.9 (nf_tables)
*nat
:PREROUTING ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:CNI-abc - [0:0]
-A POSTROUTING -s 10.22.0.2/32 -m comment --comment "name: \\"mynet\\" id: \\"ctr1\\"" -j CNI-abc
-A CNI-abc -d 10.22.0.0/24 -m comment --comment "name: \\"mynet\\" id: \\"ctr1\\"" -j ACCEPT
COMMIT
*filter
:FORWARD ACCEPT [0:0]
-A FORWARD -j DROP
COMMIT
`;

test('parseSave reads chains and rules of one table, unquoting comments', (t) => {
  const s = parseSave(SAVED, 'nat');
  t.deepEqual(s.chains, ['PREROUTING', 'POSTROUTING', 'CNI-abc']);
  t.is(s.rules.length, 2);
  t.deepEqual(
    s.rules[0],
    rule(
      'nat',
      'POSTROUTING',
      '-s',
      '10.22.0.2/32',
      '-m',
      'comment',
      '--comment',
      'name: "mynet" id: "ctr1"',
      '-j',
      'CNI-abc',
    ),
  );
  t.deepEqual(parseSave(SAVED, 'filter').rules, [rule('filter', 'FORWARD', '-j', 'DROP')]);
  t.deepEqual(parseSave(SAVED, 'mangle'), { table: 'mangle', chains: [], rules: [] });
});

test('a failing restore says which line of its input failed, as data', (t) => {
  const e = t.throws(
    () =>
      restore(ns.exec, 4, [
        { op: 'declare', table: 'filter', chain: 'CTS-OK' },
        { op: 'append', rule: rule('filter', 'CTS-OK', '-j', 'ACCEPT') },
        { op: 'append', rule: rule('filter', 'CTS-NOCHAIN', '-j', 'ACCEPT') },
      ]),
    { instanceOf: ProcessError },
  );
  t.deepEqual(e?.failed, { index: 3, args: ['-A', 'CTS-NOCHAIN', '-j', 'ACCEPT'] });
});

test('parseSave with a chain filter lists every chain but parses only the chosen chains’ rules', (t) => {
  const s = parseSave(SAVED, 'nat', (c) => c === 'CNI-abc');
  t.deepEqual(s.chains, ['PREROUTING', 'POSTROUTING', 'CNI-abc']);
  t.deepEqual(
    s.rules.map((r) => r.chain),
    ['CNI-abc'],
  );
  t.is(parseSave(SAVED, 'nat').rules.length, 2);
  const seen: string[][] = [];
  parseSave(SAVED, 'nat', (chain, line) => {
    seen.push([chain, line]);
    return false;
  });
  t.deepEqual(
    seen,
    SAVED.split('\n')
      .slice(5, 7)
      .map((line) => [line.split(' ')[1], line]),
    'the filter gets each rule line of the table as iptables-save printed it',
  );
});
