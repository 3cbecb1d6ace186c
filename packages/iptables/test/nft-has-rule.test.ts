// The nfnetlink reader's hasRule (what applyChangesNft's `-C` checks, removeChainsNft's expected
// jumps and the bridge's CHECK ask) against `iptables-nft -C` on the real kernel, in a fresh user
// and network namespace: rules written by iptables-nft itself (`-A`) and by iptables-nft-restore,
// with byte-aligned and other masks (the kernel dumps a masked match's bitwise with an
// NFTA_BITWISE_OP we never send), /32 and /128, negations, comments, multiport, marks, conntrack,
// DNAT and MARK. Every rule must be found where it is, and answer as `iptables -C` does for
// the rule's variants (another mask, address, mark, port, comment, negation) and in another chain;
// and every one-byte or one-field change of its encoding (including an expression left out or
// repeated) must not be found.
import test from 'ava';
import { runInUserNetns, userNetnsTest } from '@cni-ts/testutils';
import { restoreIsNft } from '../src/index.js';

const probed = userNetnsTest(test, 'nft-has-rule.test.ts', ['iptables-nft-save', '-t', 'nat']);
const maybe = restoreIsNft(4) && restoreIsNft(6) ? probed : probed.skip;

const COMMENT = ['-m', 'comment', '--comment', 'name: "mynet" id: "abc"'];
const TARGET = 'Q-TARGET';

interface Case {
  f: 4 | 6;
  table: 'nat' | 'filter';
  specs: string[][];
}

const CASES: Case[] = [
  {
    f: 4,
    table: 'nat',
    specs: [
      ['-d', '10.22.0.0/16', ...COMMENT, '-j', 'ACCEPT'],
      ['-d', '10.22.0.0/20', ...COMMENT, '-j', 'ACCEPT'],
      ['!', '-d', '224.0.0.0/4', ...COMMENT, '-j', 'MASQUERADE'],
      ['-s', '10.22.0.5/32', ...COMMENT, '-j', TARGET],
      ['-m', 'mark', '--mark', '0x2000/0x2000', '-j', 'MASQUERADE'],
      ['-m', 'mark', '--mark', '0x2000', '-j', 'MASQUERADE'],
      [
        '-p',
        'tcp',
        '-m',
        'comment',
        '--comment',
        'dnat name: "podnet" id: "ctr1"',
        '-m',
        'multiport',
        '--dports',
        '8080,8443',
        '-s',
        '10.0.0.0/12',
        '-j',
        TARGET,
      ],
      ['-s', '10.22.0.0/24', '-d', '192.0.2.1/32', '-p', 'tcp', '-m', 'tcp', '--dport', '8080', '-j', TARGET],
      ['-p', 'udp', '-m', 'udp', '--dport', '53', '-j', 'DNAT', '--to-destination', '10.0.0.1:53'],
      ['-m', 'addrtype', '--dst-type', 'LOCAL', '-j', TARGET],
      ['-o', 'eth0', '-j', 'MARK', '--set-xmark', '0x4000/0x4000'],
      ['!', '-s', '10.0.0.0/9', '!', '-i', 'eth1', '-j', 'RETURN'],
      ['-s', '10.0.0.0/31', '-j', 'ACCEPT'],
    ],
  },
  {
    f: 4,
    table: 'filter',
    specs: [
      [
        ...['!', '-s', '127.0.0.0/8', '-d', '127.0.0.0/8', '!', '-i', 'lo'],
        ...['-m', 'conntrack', '!', '--ctstate', 'RELATED,ESTABLISHED,DNAT', '-j', 'DROP'],
      ],
      ['-s', '10.1.0.0/23', '-m', 'conntrack', '--ctstate', 'NEW', '-j', 'ACCEPT'],
    ],
  },
  {
    f: 6,
    table: 'nat',
    specs: [
      ['-d', 'fd00:22::/64', ...COMMENT, '-j', 'ACCEPT'],
      ['-d', 'fd00:22::/60', ...COMMENT, '-j', 'ACCEPT'],
      ['!', '-d', 'ff00::/8', ...COMMENT, '-j', 'MASQUERADE'],
      ['-s', 'fd00::1/128', ...COMMENT, '-j', TARGET],
      ['-s', 'fd00:1::/127', '-j', 'RETURN'],
      ['-p', 'tcp', '-m', 'tcp', '--dport', '80', '-j', 'DNAT', '--to-destination', '[fd00::5]:8080'],
      ['-m', 'mark', '--mark', '0x1/0x3', '-j', TARGET],
    ],
  },
];

// The spec's variants that differ in one thing (each a different rule to iptables -C, or the same
// one where iptables reads it so: a prefix's host bits).
function variants(spec: readonly string[]): string[][] {
  const out: string[][] = [];
  const at = (i: number, v: string) => spec.map((w, j) => (j === i ? v : w));
  for (const [i, w] of spec.entries()) {
    const prev = spec[i - 1];
    if ((prev === '-s' || prev === '-d') && w.includes('/')) {
      const [addr, len] = w.split('/') as [string, string];
      const n = Number(len);
      const max = addr.includes(':') ? 128 : 32;
      if (n < max) out.push(at(i, `${addr}/${n + 1}`));
      if (n > 1) out.push(at(i, `${addr}/${n - 1}`));
      // the first byte of the address one higher (inside every mask here)
      out.push(
        at(
          i,
          addr.includes(':')
            ? `fd01${addr.slice(4)}/${len}`
            : `${Number(addr.split('.')[0]) + 1}${addr.slice(addr.indexOf('.'))}/${len}`,
        ),
      );
      // the negation flipped
      out.push(
        spec[i - 2] === '!' ? spec.filter((_, j) => j !== i - 2) : [...spec.slice(0, i - 1), '!', ...spec.slice(i - 1)],
      );
    } else if (prev === '--mark')
      out.push(
        at(
          i,
          w.replace(/^0x[0-9a-f]+/, (m) => `0x${(Number(m) * 2).toString(16)}`),
        ),
      );
    else if (prev === '--comment') out.push(at(i, `${w}x`));
    else if (prev === '--dport' || prev === '--dports')
      out.push(
        at(
          i,
          w.replace(/\d+$/, (m) => String(Number(m) + 1)),
        ),
      );
    else if (prev === '-i' || prev === '-o') out.push(at(i, `${w}0`));
    else if (prev === '--to-destination')
      out.push(
        at(
          i,
          w.replace(/\d+$/, (m) => String(Number(m) + 1)),
        ),
      );
  }
  return out;
}

const driver = `
import { spawnSync } from 'node:child_process';
import { systemExecutor } from ${JSON.stringify(import.meta.resolve('@cni-ts/process'))};
import { restoreToken, ruleExprs } from ${JSON.stringify(new URL('../src/index.js', import.meta.url).href)};
const { cases, writer } = JSON.parse(process.argv[2]);
const TARGET = ${JSON.stringify(TARGET)};
const sh = (f, cmd, args, input) => spawnSync(f === 4 ? cmd : cmd.replace(/^ip/, 'ip6'), args, { input, encoding: 'utf8' });
const fail = (what, r) => { throw new Error(what + ': ' + r.stderr); };
// one field of one expression changed (numbers +1, each byte of each byte string ^1, names and
// chains one character longer), or an expression left out or repeated
function mutants(exprs) {
  const out = [];
  for (const [i, e] of exprs.entries()) {
    const put = (k, v, what) => out.push({ what: i + ' ' + e.expr + ' ' + what, exprs: exprs.map((x, j) => (j === i ? { ...x, [k]: v } : x)) });
    for (const [k, v] of Object.entries(e)) {
      if (typeof v === 'number') put(k, v + 1, k + '+1');
      else if (v instanceof Uint8Array) for (let b = 0; b < v.length; b++) { const w = v.slice(); w[b] ^= 1; put(k, w, k + '[' + b + ']^1'); }
      else if (k === 'op') put(k, v === 'eq' ? 'neq' : 'eq', 'op');
      else if (k === 'name' || k === 'chain') put(k, v + 'X', k);
    }
    out.push({ what: i + ' left out', exprs: exprs.filter((_, j) => j !== i) });
    out.push({ what: i + ' twice', exprs: [...exprs.slice(0, i + 1), e, ...exprs.slice(i + 1)] });
  }
  return out;
}
const results = [];
for (const c of cases) {
  const ipt = c.f === 4 ? 'iptables-nft' : 'ip6tables-nft';
  const chains = [...c.specs.map((_, i) => 'Q' + i), 'QALL', TARGET];
  for (const ch of chains) { const r = sh(c.f, 'iptables-nft', ['-t', c.table, '-N', ch]); if (r.status) fail('-N ' + ch, r); }
  const lines = c.specs.flatMap((s, i) => ['Q' + i, 'QALL'].map((ch) => ['-A', ch, ...s]));
  if (writer === 'iptables') {
    for (const l of lines) { const r = sh(c.f, 'iptables-nft', ['-t', c.table, ...l]); if (r.status) fail(l.join(' '), r); }
  } else {
    const text = '*' + c.table + '\\n' + lines.map((l) => l.map(restoreToken).join(' ')).join('\\n') + '\\nCOMMIT\\n';
    const r = sh(c.f, 'iptables-nft-restore', ['--noflush'], text);
    if (r.status) fail('restore', r);
  }
  // the queries: each rule in its chain, in the chain of every rule, in the next rule's chain, and its variants
  const queries = [];
  for (const [i, s] of c.specs.entries()) {
    queries.push({ chain: 'Q' + i, spec: s, kind: 'itself' }, { chain: 'QALL', spec: s, kind: 'itself' });
    queries.push({ chain: 'Q' + ((i + 1) % c.specs.length), spec: s, kind: 'other chain' });
    for (const v of c.variants[i]) queries.push({ chain: 'Q' + i, spec: v, kind: 'variant' });
  }
  const jumpable = new Set(chains);
  const answers = [];
  const wrong = [];
  let tried = 0;
  const out = systemExecutor.nftTransaction(c.f === 4 ? 'ip' : 'ip6', c.table, (read) => {
    for (const q of queries) {
      const exprs = ruleExprs(c.f, q.spec, jumpable)?.exprs;
      answers.push({ ...q, ours: exprs ? read.hasRule(q.chain, exprs) : null });
    }
    for (const [i, s] of c.specs.entries()) {
      for (const m of mutants(ruleExprs(c.f, s, jumpable).exprs)) {
        tried++;
        if (read.hasRule('Q' + i, m.exprs)) wrong.push(s.join(' ') + ': ' + m.what);
      }
    }
    return [];
  });
  // iptables' own answers: -C, and whether iptables-save prints the query (written to a scratch
  // chain) as it prints a rule of the chain
  const saved = () => sh(c.f, 'iptables-nft-save', ['-t', c.table]).stdout.split('\\n');
  const before = saved();
  sh(c.f, 'iptables-nft', ['-t', c.table, '-N', 'QV']);
  for (const a of answers) {
    a.iptables = sh(c.f, 'iptables-nft', ['-t', c.table, '-C', a.chain, ...a.spec]).status === 0;
    sh(c.f, 'iptables-nft', ['-t', c.table, '-F', 'QV']);
    const w = sh(c.f, 'iptables-nft', ['-t', c.table, '-A', 'QV', ...a.spec]);
    if (w.status) fail('-A QV ' + a.spec.join(' '), w);
    const line = saved().find((l) => l.startsWith('-A QV '));
    a.saved = before.includes(line.replace(/^-A QV /, '-A ' + a.chain + ' '));
  }
  results.push({ ok: out?.ok ?? false, answers, wrong, tried });
}
process.stdout.write(JSON.stringify(results));
`;

interface Answer {
  chain: string;
  spec: string[];
  kind: string;
  ours: boolean | null;
  iptables: boolean;
  saved: boolean;
}

for (const writer of ['iptables', 'restore'] as const) {
  maybe(
    `hasRule answers as iptables -C for rules written by ${writer === 'iptables' ? 'iptables-nft -A' : 'iptables-nft-restore'}`,
    (t) => {
      const cases = CASES.map((c) => ({ ...c, variants: c.specs.map(variants) }));
      const res = runInUserNetns<Array<{ ok: boolean; answers: Answer[]; wrong: string[]; tried: number }>>(t, driver, {
        input: { cases, writer },
        timeoutMs: 120_000,
      });
      for (const [i, r] of res.entries()) {
        const c = CASES[i]!;
        const where = `IPv${c.f} ${c.table}`;
        t.true(r.ok, `${where}: the reading transaction ran`);
        const show = (a: Answer) => `${a.kind}: -C ${a.chain} ${a.spec.join(' ')}`;
        // every rule is found where it is, by both; nothing is in the next rule's chain (the rules
        // differ pairwise); every encodable variant: the same answer as iptables -C
        const disagree = r.answers
          .filter((a) =>
            a.kind === 'itself'
              ? !(a.ours === true && a.iptables && a.saved)
              : a.kind === 'other chain'
                ? a.ours !== false || a.saved
                : a.ours !== null && a.ours !== a.saved,
          )
          .map((a) => `${show(a)}: hasRule ${a.ours}, iptables-save ${a.saved}`);
        t.deepEqual(disagree, [], `${where}: hasRule against iptables-save`);
        // against -C: the same, but for ip6tables-nft 1.8.9's -C not comparing an address's prefix
        // length (it finds -s fd00:1::/127 for -s fd00:1::/128; iptables-save prints them apart)
        const unmasked = (spec: readonly string[]) =>
          spec.map((w, i) => (spec[i - 1] === '-s' || spec[i - 1] === '-d' ? w.replace(/\/\d+$/, '') : w)).join(' ');
        const ruleOf = (chain: string) => c.specs[Number(chain.slice(1))]!;
        const cDisagree = r.answers
          .filter((a) => a.ours !== null && a.kind !== 'itself' && a.ours !== a.iptables)
          .filter((a) => !(c.f === 6 && !a.ours && a.iptables && unmasked(a.spec) === unmasked(ruleOf(a.chain))))
          .map((a) => `${show(a)}: hasRule ${a.ours}, iptables -C ${a.iptables}`);
        t.deepEqual(cDisagree, [], `${where}: hasRule against iptables -C`);
        const variantsSeen = r.answers.filter((x) => x.kind === 'variant' && x.ours !== null);
        t.true(variantsSeen.length >= c.specs.length, `${where}: variants were compared`);
        t.true(
          variantsSeen.some((a) => !a.iptables),
          `${where}: some variants are other rules`,
        );
        t.deepEqual(r.wrong, [], `${where}: a one-field change of the encoding is not the rule (${r.tried} tried)`);
        t.true(r.tried > 100, `${where}: mutants were tried`);
      }
    },
  );
}
