import test from 'ava';
import { FakeExecutor } from '@cni-ts/testutils';
import { nftApply, nftList, nftString, parseNftJson } from '../src/index.js';

const LISTING = JSON.stringify({
  nftables: [
    { metainfo: { version: '1.0.6' } },
    {
      chain: {
        family: 'bridge',
        table: 'nat',
        name: 'PREROUTING',
        handle: 1,
        type: 'filter',
        hook: 'prerouting',
        prio: -300,
        policy: 'accept',
      },
    },
    {
      rule: { family: 'bridge', table: 'nat', chain: 'PREROUTING', handle: 4, comment: 'macspoofchk-c-eth0', expr: [] },
    },
  ],
});

test('nftList parses chains and rules; a missing table is an empty listing', (t) => {
  const exec = new FakeExecutor()
    .on((c) => c.args.includes('bridge'), { stdout: LISTING })
    .on(() => true, { status: 1, stderr: 'Error: No such file or directory\nlist table inet x' });
  const l = nftList(exec, ['table', 'bridge', 'nat']);
  t.is(l.chains[0]?.prio, -300);
  t.is(l.rules[0]?.handle, 4);
  t.deepEqual(nftList(exec, ['table', 'inet', 'x']), { chains: [], rules: [] });
  t.deepEqual(exec.lines(), ['nft -j list table bridge nat', 'nft -j list table inet x']);
});

test('nftList still throws on other failures', (t) => {
  const exec = new FakeExecutor().on(() => true, { status: 1, stderr: 'Error: Operation not permitted' });
  t.throws(() => nftList(exec, ['ruleset']));
});

test('nftApply sends the script on stdin in one process, and nothing for an empty script', (t) => {
  const exec = new FakeExecutor();
  nftApply(exec, 'add table bridge nat\n');
  nftApply(exec, '  \n');
  t.deepEqual(exec.calls, [{ file: 'nft', args: ['-f', '-'], input: 'add table bridge nat\n' }]);
});

test('nft strings are double-quoted; parseNftJson of empty output is empty', (t) => {
  t.is(nftString('a "b"'), '"a b"');
  t.deepEqual(parseNftJson(''), { chains: [], rules: [] });
});
