import test from 'ava';
import { selectPlugin } from '../src/select.js';

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
