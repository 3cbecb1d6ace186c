import test from 'ava';
import { UsageError, parseArgs } from '../../src/cli/args.js';
import { containerIdFor, parseCniArgs, runtimeFor } from '../../src/cli/cnitool.js';

test('flags may come anywhere, with a value after a space or an equals sign', (t) => {
  const a = parseArgs(['--json', 'add', 'net', '-i', 'net1', '/run/netns/p', '--cache-dir=/tmp/c']);
  t.like(a, { command: 'add', positional: ['net', '/run/netns/p'], json: true, ifname: 'net1', cacheDir: '/tmp/c' });
  t.deepEqual(parseArgs(['gc', 'n', '--valid', 'a/eth0', '--valid=b/net1', '--all']).valid, ['a/eth0', 'b/net1']);
  t.throws(() => parseArgs(['add', '--nope']), { instanceOf: UsageError, message: 'unknown option --nope' });
  t.throws(() => parseArgs(['add', '-i']), { instanceOf: UsageError, message: '-i needs a value' });
});

test("the container ID is cnitool's: cnitool- and the first 10 bytes of sha512(netns path)", (t) => {
  // python3 -c "import hashlib; print(hashlib.sha512(b'/run/netns/pod1').hexdigest()[:20])"
  t.is(containerIdFor('/run/netns/pod1'), 'cnitool-eb69d96616c204ff963c');
});

test('CNI_ARGS pairs are parsed as cnitool parses them, and CAP_ARGS must be a JSON object', (t) => {
  t.deepEqual(parseCniArgs('IgnoreUnknown=1;K8S_POD_NAME=web'), [
    ['IgnoreUnknown', '1'],
    ['K8S_POD_NAME', 'web'],
  ]);
  for (const bad of ['A', 'A=', '=1', 'A=1=2', 'A=1;'])
    t.throws(() => parseCniArgs(bad), { instanceOf: UsageError, message: /invalid CNI_ARGS pair/ }, bad);
  const rt = runtimeFor(
    '/run/netns/pod1',
    { CNI_IFNAME: 'net0', CAP_ARGS: '{"portMappings":[{"hostPort":80}]}', CNI_ARGS: 'A=1' },
    parseArgs(['add']),
  );
  t.deepEqual(rt, {
    containerID: 'cnitool-eb69d96616c204ff963c',
    netns: '/run/netns/pod1',
    ifName: 'net0',
    args: [['A', '1']],
    capabilityArgs: { portMappings: [{ hostPort: 80 }] },
  });
  t.is(runtimeFor('/run/netns/pod1', { CNI_IFNAME: 'net0' }, parseArgs(['add', '-i', 'x'])).ifName, 'x', '-i wins');
  t.is(runtimeFor('/run/netns/pod1', {}, parseArgs(['add'])).ifName, 'eth0');
  t.throws(() => runtimeFor('/run/netns/p', { CAP_ARGS: '[1]' }, parseArgs(['add'])), { instanceOf: UsageError });
  t.is(runtimeFor('rel/ns', {}, parseArgs(['add'])).netns, `${process.cwd()}/rel/ns`, 'made absolute as cnitool does');
});
