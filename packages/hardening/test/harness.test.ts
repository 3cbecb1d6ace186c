// The harness's own judges must be able to fail: the output contract flags stack traces, JS
// errors, bad error objects and exit codes; the state diff names what appeared and vanished.
import test from 'ava';
import fc from 'fast-check';
import { contractProblems, diffState, prng, setPath } from '../src/index.js';

const err = (o: object) => JSON.stringify(o);

test('the contract accepts a result, a VERSION answer, a quiet DEL and a CNI error', (t) => {
  const result = err({ cniVersion: '1.0.0', ips: [{ address: '10.0.0.2/24' }] });
  t.deepEqual(contractProblems('ADD', { exitCode: 0, stdout: result, stderr: '' }, '1.0.0'), []);
  t.deepEqual(
    contractProblems('VERSION', {
      exitCode: 0,
      stdout: err({ cniVersion: '1.1.0', supportedVersions: [] }),
      stderr: '',
    }),
    [],
  );
  t.deepEqual(contractProblems('DEL', { exitCode: 0, stdout: '', stderr: 'bridge: note\n' }), []);
  t.deepEqual(
    contractProblems('ADD', { exitCode: 1, stdout: err({ code: 7, msg: 'bad', details: 'fix' }), stderr: '' }),
    [],
  );
});

test('the contract flags stack traces, JavaScript errors, bad error objects, odd exits and hangs', (t) => {
  const e7 = err({ code: 7, msg: 'x' });
  const cases: Array<[string, Parameters<typeof contractProblems>[1]]> = [
    ['stack', { exitCode: 1, stdout: e7, stderr: 'Error: x\n    at add (/$bunfs/root/cni-ts:1:2)\n' }],
    [
      'js error',
      {
        exitCode: 1,
        stdout: err({ code: 999, msg: "Cannot read properties of undefined (reading 'ips')" }),
        stderr: '',
      },
    ],
    ['engine name', { exitCode: 1, stdout: e7, stderr: 'TypeError: x' }],
    ['go panic', { exitCode: 2, stdout: '', stderr: 'panic: runtime error\ngoroutine 1 [running]:' }],
    ['code 0', { exitCode: 1, stdout: err({ code: 0, msg: 'x' }), stderr: '' }],
    ['empty msg', { exitCode: 1, stdout: err({ code: 7, msg: '' }), stderr: '' }],
    ['not json', { exitCode: 1, stdout: 'failed', stderr: '' }],
    ['extra key', { exitCode: 1, stdout: err({ code: 7, msg: 'x', stack: 'y' }), stderr: '' }],
    ['exit 2', { exitCode: 2, stdout: e7, stderr: '' }],
    ['killed', { exitCode: null, stdout: '', stderr: '' }],
    ['hung', { exitCode: null, stdout: '', stderr: '', timedOut: true }],
    ['no result', { exitCode: 0, stdout: '', stderr: '' }],
    ['bad result', { exitCode: 0, stdout: err({ cniVersion: '1.0.0', ips: 'x' }), stderr: '' }],
    ['chatty DEL', { exitCode: 0, stdout: 'ok', stderr: '' }],
  ];
  for (const [what, o] of cases) {
    const command = what === 'chatty DEL' ? 'DEL' : 'ADD';
    t.not(contractProblems(command, o, '1.0.0').length, 0, what);
  }
});

test('a message that merely contains "null is not" is not a JavaScript error', (t) => {
  const o = { exitCode: 1, stdout: err({ code: 7, msg: 'hostPort null is not a port number' }), stderr: '' };
  t.deepEqual(contractProblems('ADD', o), []);
});

test('diffState names appeared and vanished lines, duplicates included', (t) => {
  t.deepEqual(diffState({ links: ['a', 'b'] }, { links: ['a', 'b'] }), []);
  t.deepEqual(diffState({ links: ['a'] }, { links: ['a', 'a', 'c'] }), ['+ links: a', '+ links: c']);
  t.deepEqual(diffState({ links: ['a', 'b'], rules: ['r'] }, { links: ['b'] }), ['- links: a', '- rules: r']);
});

test('setPath creates, replaces and deletes nested keys, bracketed keys with dots included', (t) => {
  const o: Record<string, unknown> = { a: { b: 1 } };
  setPath(o, 'a.b', 2);
  setPath(o, 'x.0.y', 'z');
  setPath(o, 'a.[k.io/x]', true);
  setPath(o, 'a.b', undefined);
  t.deepEqual(o, { a: { 'k.io/x': true }, x: [{ y: 'z' }] });
});

test('the PRNG replays: one seed, one sequence', (t) => {
  fc.assert(
    fc.property(fc.integer(), (seed) => {
      const a = prng(seed);
      const b = prng(seed);
      return [a(), a(), a()].join() === [b(), b(), b()].join();
    }),
    { numRuns: 50, seed: 1 },
  );
  t.pass();
});
