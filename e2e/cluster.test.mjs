// The sandbox cluster demo as a test: every check of the Kubernetes network model must pass.
import test from 'ava';
import { isRoot } from '@cni-ts/testutils';
import { runClusterDemo } from './demo/cluster.mjs';

const t0 = isRoot() ? test : test.skip;
if (!isRoot()) process.stderr.write('# SKIP e2e cluster demo: root integration tests need root\n');

t0('the sandbox cluster demo passes every check and leaves nothing behind', async (t) => {
  const lines = [];
  const { ok, checks } = await runClusterDemo({ prefix: `ctdt${process.pid.toString(36)}`, log: (l) => lines.push(l) });
  t.log(lines.join('\n'));
  t.true(checks.length >= 10, 'all checks ran');
  t.deepEqual(
    checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`),
    [],
  );
  t.true(ok);
});
