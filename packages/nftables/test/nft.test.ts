// nft scripts against the real nft in a scratch netns: every value goes through nftString or
// nftIdentifier into `nft -f -`, and `nft -j list` shows what nft read. No expected script text.
import test from 'ava';
import { type Executor, ProcessError, UnencodableError, isKind } from '@cni-ts/process';
import { AWKWARD_VALUES, ScratchNetns, TEST_SEED, generatedValues } from '@cni-ts/testutils';
import { nftApply, nftIdentifier, nftList, nftString, parseNftJson } from '../src/index.js';

let ns: ScratchNetns;
test.before(async () => {
  ns = await ScratchNetns.start();
});
test.after.always(() => ns?.stop());

const VALUES = [...new Set([...AWKWARD_VALUES, ...generatedValues(TEST_SEED, 300)])];

function encodes(f: (v: string) => string, v: string): boolean {
  try {
    f(v);
    return true;
  } catch (e) {
    if (!(e instanceof UnencodableError) || e.value !== v) throw e;
    return false;
  }
}

test.serial(`nft reads back every string nftString writes (seed ${TEST_SEED})`, (t) => {
  const values = VALUES.filter((v) => encodes(nftString, v));
  const script =
    'add table inet cts_str\nadd chain inet cts_str c\n' +
    values.map((v) => `add rule inet cts_str c accept comment ${nftString(v)}\n`).join('');
  nftApply(ns.exec, script);
  const rules = nftList(ns.exec, ['chain', 'inet', 'cts_str', 'c']).rules;
  t.deepEqual(
    rules.map((r) => r.comment ?? ''),
    values,
  );
});

test(`nftString refuses only double quotes, line breaks and NUL (seed ${TEST_SEED})`, (t) => {
  for (const v of VALUES) {
    t.is(encodes(nftString, v), !/["\n\r\0]/.test(v), JSON.stringify(v));
  }
  const e = t.throws(() => nftString('a"b'), { instanceOf: UnencodableError });
  t.is(e?.grammar, 'nft');
  t.is(e?.value, 'a"b');
});

test.serial('what nftString refuses is real: nft has no escape for a quote, and a newline splits the listing', (t) => {
  const quote = ns.exec.run('nft', ['-f', '-'], {
    input: 'add table inet cts_q\nadd chain inet cts_q c\nadd rule inet cts_q c accept comment "a\\"b"\n',
  });
  t.not(quote.status, 0);
  t.regex(quote.stderr, /syntax error/);
  nftApply(ns.exec, 'add table inet cts_nl\nadd chain inet cts_nl c\nadd rule inet cts_nl c accept comment "x\ny"\n');
  const listed = ns.exec.run('nft', ['list', 'chain', 'inet', 'cts_nl', 'c']).stdout;
  t.regex(listed, /comment "x\ny"/, 'nft stores the newline, and its listing breaks the rule across lines');
  t.is(nftString('\\'), '"\\"', 'a backslash is an ordinary character');
});

test.serial(
  `nft reads back every name nftIdentifier writes; the names it refuses nft cannot take (seed ${TEST_SEED})`,
  (t) => {
    const names = [
      'c-x',
      'cni-br-iface-abc.1_2-eth0',
      '_x',
      '.y',
      'a/b',
      ...generatedValues(TEST_SEED + 1, 200).map((v) => `c${v}`),
    ];
    const good = [...new Set(names.filter((v) => encodes(nftIdentifier, v)))];
    nftApply(
      ns.exec,
      `add table inet cts_id\n${good.map((n) => `add chain inet cts_id ${nftIdentifier(n)}\n`).join('')}`,
    );
    const chains = nftList(ns.exec, ['table', 'inet', 'cts_id']).chains.map((c) => c.name);
    t.deepEqual([...chains].sort(), [...good].sort());
    for (const bad of ['9x', 'a b', 'x@y', 'a;b', 'é', '', 'a"b', 'a\\b', 'a#b']) {
      t.false(encodes(nftIdentifier, bad), JSON.stringify(bad));
      if (bad.includes('"') || bad.includes('\n')) continue;
      for (const written of [bad, `"${bad}"`]) {
        ns.exec.run('nft', ['-f', '-'], { input: `add chain inet cts_id ${written}\n` });
        const made = nftList(ns.exec, ['table', 'inet', 'cts_id']).chains.some((c) => c.name === bad);
        t.false(made, `nft read ${written} as the chain name ${JSON.stringify(bad)}`);
      }
    }
  },
);

test.serial('a failing script says which line nft refused; nothing of the transaction is applied', (t) => {
  const script =
    'add table inet cts_fail\nadd chain inet cts_fail c\ndelete rule inet cts_fail c handle 999\nadd chain inet cts_fail d\n';
  const e = t.throws(() => nftApply(ns.exec, script), { instanceOf: ProcessError });
  t.deepEqual(e?.failed, { index: 2, args: ['delete rule inet cts_fail c handle 999'] });
  t.is(e?.kind, 'missing');
  t.is(e?.command, 'nft delete rule inet cts_fail c handle 999');
  t.deepEqual(nftList(ns.exec, ['table', 'inet', 'cts_fail']), { chains: [], rules: [] });
});

test.serial('nftList: a missing table or chain is an empty listing; other failures throw', (t) => {
  t.deepEqual(nftList(ns.exec, ['table', 'bridge', 'cts_none']), { chains: [], rules: [] });
  nftApply(ns.exec, 'add table inet cts_l\n');
  t.deepEqual(nftList(ns.exec, ['chain', 'inet', 'cts_l', 'nochain']), { chains: [], rules: [] });
  const e = t.throws(() => nftList(ns.exec, ['tablex', 'inet', 'cts_l']));
  t.false(isKind(e, 'missing'), String(e));
  t.deepEqual(parseNftJson(''), { chains: [], rules: [] });
  nftApply(ns.exec, '  \n');
});

test('nftList asks the executor whether the table exists first: a table it says is absent lists empty without nft; otherwise nft runs', (t) => {
  const ran: string[] = [];
  const asked: string[] = [];
  const exec = (exists: boolean | undefined): Executor => ({
    run(file, args) {
      ran.push([file, ...args].join(' '));
      return {
        status: 0,
        stdout: '{"nftables": [{"chain": {"family": "inet", "table": "t", "name": "c"}}]}',
        stderr: '',
      };
    },
    nftTableExists(family, name) {
      asked.push(`${family} ${name}`);
      return exists;
    },
  });
  t.deepEqual(nftList(exec(false), ['chain', 'inet', 't', 'c']), { chains: [], rules: [] });
  t.deepEqual(nftList(exec(false), ['table', 'ip', 'nat']), { chains: [], rules: [] });
  t.deepEqual(ran, []);
  t.deepEqual(asked, ['inet t', 'ip nat']);
  t.is(nftList(exec(true), ['chain', 'inet', 't', 'c']).chains.length, 1);
  t.is(nftList(exec(undefined), ['table', 'inet', 't']).chains.length, 1);
  t.deepEqual(ran, ['nft -j list chain inet t c', 'nft -j list table inet t']);
  // not a table or chain listing: never asked
  nftList(exec(false), ['ruleset']);
  t.is(ran.length, 3);
});
