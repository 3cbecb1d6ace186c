import test from 'ava';
import { parseTap } from '../tap.mjs';

test('counts passes, failures and skips, ignoring diagnostics', (t) => {
  const tap = [
    'TAP version 13',
    'ok 1 - a',
    'not ok 2 - b',
    '  ---',
    '  ok 3 inside yaml is indented',
    '  ...',
    'ok 3 - c # SKIP',
    'not ok 4 - d # TODO later',
    'ok 5 - e',
    '1..5',
    '# pass 2',
  ].join('\n');
  t.deepEqual(parseTap(tap), { pass: 2, fail: 1, skip: 2 });
});
