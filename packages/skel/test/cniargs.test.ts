import test from 'ava';
import { CniError } from '@cni-ts/types';
import { K8S_ARGS, loadCniArgs, splitCniArgs } from '../src/index.js';

test('splits pairs and keeps order', (t) => {
  t.deepEqual(splitCniArgs('A=1;B=2'), [
    ['A', '1'],
    ['B', '2'],
  ]);
  t.deepEqual(splitCniArgs(''), []);
});

test('a pair without exactly one "=" is a code-4 error', (t) => {
  for (const bad of ['A', 'A=1=2', 'A=1;;B=2']) {
    const e = t.throws(() => splitCniArgs(bad), { instanceOf: CniError });
    t.is(e?.code, 4);
    t.regex(e!.message, /invalid pair/);
  }
});

test('unknown keys are refused unless IgnoreUnknown is true; keys are case-sensitive', (t) => {
  t.throws(() => loadCniArgs('FOO=bar', ['IP']), { message: /unknown args \["FOO=bar"\]/ });
  t.throws(() => loadCniArgs('ip=10.0.0.2', ['IP']), { message: /unknown args/ });
  t.deepEqual(loadCniArgs('IgnoreUnknown=1;FOO=bar;IP=10.0.0.2', ['IP']), { IP: '10.0.0.2' });
  t.deepEqual(loadCniArgs('IgnoreUnknown=TRUE;K8S_POD_NAME=web', ['IP']), {});
  t.deepEqual(loadCniArgs('K8S_POD_NAMESPACE=default;K8S_POD_NAME=web', K8S_ARGS), {
    K8S_POD_NAMESPACE: 'default',
    K8S_POD_NAME: 'web',
  });
  t.throws(() => loadCniArgs('IgnoreUnknown=yes', []), { message: /not a boolean/ });
});
