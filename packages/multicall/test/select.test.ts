import test from 'ava';
import { baseNames, selectPlugin } from '../src/select.js';

const plugins = { loopback: 'L', 'host-local': 'H' };

test('picks the plugin from argv0 as libcni invokes it (full path) or a bare name', (t) => {
  t.is(selectPlugin(plugins, '/opt/cni/bin/loopback', '/$bunfs/root/cni-ts'), 'L');
  t.is(selectPlugin(plugins, 'host-local', undefined), 'H');
});

test('falls back to argv[1] for node running a bundle named after the plugin', (t) => {
  t.is(selectPlugin(plugins, 'node', '/usr/lib/node_modules/@cni-ts/loopback/dist/bundle/loopback.mjs'), 'L');
});

test('an unknown name or an inherited property selects nothing', (t) => {
  t.is(selectPlugin(plugins, '/opt/cni/bin/cni-ts', '/$bunfs/root/cni-ts'), undefined);
  t.is(selectPlugin(plugins, 'constructor', 'toString'), undefined);
});

test('the base names are computed once per argv pair: the three tables main.ts selects from share them', (t) => {
  const argv0 = '/opt/cni/bin/loopback';
  const argv1 = '/$bunfs/root/cni-ts';
  const once = baseNames(argv0, argv1);
  t.deepEqual([...once], ['loopback', 'cni-ts']);
  // the same pair again: the same (cached) pair of names, not a new computation
  t.is(baseNames(argv0, argv1), once);
  t.is(selectPlugin(plugins, argv0, argv1), 'L');
  t.is(baseNames(argv0, argv1), once);
  // another pair is computed afresh
  t.deepEqual([...baseNames('node', '/x/host-local.mjs')], ['node', 'host-local']);
  t.deepEqual([...baseNames('', undefined)], [undefined, undefined]);
});
