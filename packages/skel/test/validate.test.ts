// The character scans of validate.ts held to the regular expressions they replace, over every
// UTF-16 code unit and over mixed strings, and through the validators that use them.
import test from 'ava';
import { seededStrings } from '@cni-ts/testutils';
import { CniError } from '@cni-ts/types';
import {
  hasSlashColonOrSpace,
  isIdentifier,
  validateContainerId,
  validateIfName,
  validateNetworkName,
} from '../src/index.js';

const ID_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const IFNAME_BAD = /[/:\s]/;

test('isIdentifier and hasSlashColonOrSpace agree with their expressions on every code unit', (t) => {
  for (let c = 0; c <= 0xffff; c++) {
    const s = String.fromCharCode(c);
    for (const v of [s, `a${s}`, `${s}a`, `a${s}b`]) {
      if (isIdentifier(v) !== ID_RE.test(v)) t.fail(`isIdentifier(${JSON.stringify(v)})`);
      if (hasSlashColonOrSpace(v) !== IFNAME_BAD.test(v)) t.fail(`hasSlashColonOrSpace(${JSON.stringify(v)})`);
    }
  }
  t.pass();
});

test('isIdentifier and hasSlashColonOrSpace agree with their expressions on mixed strings', (t) => {
  const alphabet = [
    'a',
    'Z',
    '0',
    '9',
    '_',
    '.',
    '-',
    '/',
    ':',
    ' ',
    '\t',
    '\n',
    '\u00a0',
    '\u2028',
    '\ufeff',
    '@',
    '`',
    '{',
    '\u00e9',
  ];
  for (const s of seededStrings(3, 10000, alphabet, 10)) {
    t.is(isIdentifier(s), ID_RE.test(s), JSON.stringify(s));
    t.is(hasSlashColonOrSpace(s), IFNAME_BAD.test(s), JSON.stringify(s));
  }
  t.false(isIdentifier(''));
  t.true(isIdentifier('a'.repeat(64)));
  t.false(isIdentifier('-a'));
});

test('the validators still accept and refuse with their codes', (t) => {
  t.notThrows(() => validateContainerId('0123abc_.-x'));
  t.is(t.throws(() => validateContainerId('_a'), { instanceOf: CniError })?.code, 4);
  t.notThrows(() => validateIfName('eth0'));
  t.regex(t.throws(() => validateIfName('eth 0'), { instanceOf: CniError })?.message ?? '', /whitespace/);
  t.regex(t.throws(() => validateIfName('a\u3000b'), { instanceOf: CniError })?.message ?? '', /whitespace/);
  t.regex(t.throws(() => validateIfName('a/b'), { instanceOf: CniError })?.message ?? '', /'\/'/);
  t.is(validateNetworkName('net-1.a_b'), 'net-1.a_b');
  t.is(t.throws(() => validateNetworkName('net/1'), { instanceOf: CniError })?.code, 7);
});
