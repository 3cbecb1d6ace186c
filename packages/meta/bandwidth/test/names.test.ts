// ifb names byte for byte as upstream: its test vector, and names the Go plugin made here.
import test from 'ava';
import { ifbAlias, ifbName, isIfbName, parseIfbAlias } from '../src/index.js';

test('ifb names: "bwp" + 12 hex digits of sha512(network + containerID), as the Go plugin names them', (t) => {
  t.is(ifbName('cni-plugin-bandwidth-test', 'dummy'), 'bwpa8eda89404b7'); // upstream bandwidth_linux_test.go
  t.is(ifbName('bwnet', 'c1'), 'bwp459546d14214'); // /usr/lib/cni/bandwidth ADD, network bwnet, container c1
  t.is(ifbName('bwmeas', 'm1'), 'bwp20dc316bff60'); // /usr/lib/cni/bandwidth ADD, network bwmeas, container m1
  t.true(isIfbName(ifbName('a', 'b')));
  t.false(isIfbName('bwp123'));
});

test('the alias names network and container, and only ours parse back', (t) => {
  const alias = ifbAlias('podnet', 'abc123');
  t.is(alias, 'cni-ts/bandwidth:podnet:abc123');
  t.deepEqual(parseIfbAlias(alias), { network: 'podnet', containerId: 'abc123' });
  t.is(parseIfbAlias('something else'), undefined);
  t.is(parseIfbAlias(undefined), undefined);
  t.is(ifbAlias('n', 'x'.repeat(300)), undefined); // longer than the kernel keeps
});
