import { FakeExecutor } from '@cni-ts/testutils';
import test from 'ava';
import { observeRoutes, syncRoutes } from '../src/apply-routes.js';

const want = [
  { dst: '10.244.2.0/24', via: '192.168.0.2', node: 'n2' },
  { dst: '10.244.9.0/24', via: '10.77.0.9', node: 'n9' },
];

function fake(v4: string, stderr = '', status = 0) {
  return new FakeExecutor()
    .on((c) => c.args.includes('-4') && c.input.includes('route show'), { stdout: `${v4}\n` })
    .on((c) => c.args.includes('-6') && c.input.includes('route show'), { stdout: '[]\n' })
    .on((c) => c.args.includes('-force'), { status, stderr });
}

test('observed routes: /32 host routes get their length; routes without a dst are ignored', (t) => {
  const exec = fake('[{"dst":"10.244.3.0/24","gateway":"192.168.0.3"},{"dst":"10.9.9.9","gateway":"192.168.0.9"}]');
  t.deepEqual(observeRoutes(exec, 202), [
    { dst: '10.244.3.0/24', gateway: '192.168.0.3' },
    { dst: '10.9.9.9/32', gateway: '192.168.0.9' },
  ]);
  t.true(exec.calls.every((c) => c.input === 'route show proto 202\n'));
});

test('one ip -force batch per change; a refused route is reported, the others are applied', (t) => {
  const exec = fake(
    '[{"dst":"10.244.3.0/24","gateway":"192.168.0.3"}]',
    'RTNETLINK answers: No such process\nCommand failed -:1\nError: Nexthop has invalid gateway.\nCommand failed -:3\n',
    1,
  );
  const r = syncRoutes(exec, want, 202);
  t.deepEqual(r.commands, [
    ['route', 'del', '10.244.3.0/24', 'proto', '202'],
    ['route', 'replace', '10.244.2.0/24', 'via', '192.168.0.2', 'proto', '202'],
    ['route', 'replace', '10.244.9.0/24', 'via', '10.77.0.9', 'proto', '202'],
  ]);
  t.deepEqual(r.failed, [
    { command: 'route replace 10.244.9.0/24 via 10.77.0.9 proto 202', error: 'Error: Nexthop has invalid gateway.' },
  ]);
  const batches = exec.calls.filter((c) => c.args.includes('-batch') && c.args.includes('-force'));
  t.is(batches.length, 1);
});

test('nothing to change runs no batch; an ip that cannot run at all is an error', (t) => {
  const settled = fake(JSON.stringify(want.map((w) => ({ dst: w.dst, gateway: w.via }))));
  t.deepEqual(syncRoutes(settled, want, 202), { commands: [], failed: [] });
  t.false(settled.calls.some((c) => c.args.includes('-force')));
  const broken = fake('[]', 'ip: cannot open netlink socket\n', 1);
  t.throws(() => syncRoutes(broken, want, 202), { message: /netlink/ });
});
