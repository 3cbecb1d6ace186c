// The main job as a suite: the sandbox cluster demo runs once, and every point of the Kubernetes
// network model it checks is its own test, failing with the pod, the command and what was seen.
// A check the demo did not reach fails too (it says where the demo stopped).
import test from 'ava';
import { rootTest } from '@cni-ts/testutils';
import { CHECKS, runClusterDemo } from './demo/cluster.mjs';

const rtest = rootTest(test, 'e2e/cluster.test.mjs');
let demo;
const lines = [];

rtest.before(async () => {
  demo = await runClusterDemo({ prefix: `ctdt${process.pid.toString(36)}`, log: (l) => lines.push(l) });
});

for (const [id, name] of CHECKS) {
  rtest.serial(name, (t) => {
    const c = demo?.checks.find((x) => x.id === id);
    if (!c) return t.fail(`the demo did not run this check:\n${lines.join('\n')}`);
    if (!c.ok) {
      t.log(lines.join('\n'));
      t.fail(
        [
          c.detail,
          c.pod && `pod: ${c.pod}`,
          c.command && `command: ${c.command}`,
          c.seen !== undefined && `seen: ${c.seen}`,
        ]
          .filter(Boolean)
          .join('\n'),
      );
      return;
    }
    t.pass();
    if (c.detail) t.log(c.detail);
  });
}
