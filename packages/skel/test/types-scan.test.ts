// The character scans that stand in for regular expressions in @cni-ts/types (json.ts's goEscape,
// version.ts's digit check) held to the expressions they replace, over every UTF-16 code unit and
// mixed strings. Here rather than in types' tests: testutils (the seeded strings) depends on types.
import { seededStrings } from '@cni-ts/testutils';
import { CniError, goEscape, parseVersion } from '@cni-ts/types';
import test from 'ava';

const byRegExp = (s: string) =>
  s.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

test('goEscape escapes what /[<>&\\u2028\\u2029]/g did, every code unit alone and in strings', (t) => {
  for (let c = 0; c <= 0xffff; c++) {
    const s = String.fromCharCode(c);
    if (goEscape(s) !== byRegExp(s)) t.fail(`code unit ${c.toString(16)}`);
    const mid = `a${s}b${s}`;
    if (goEscape(mid) !== byRegExp(mid)) t.fail(`code unit ${c.toString(16)} in a string`);
  }
  const alphabet = [
    '<',
    '>',
    '&',
    '\u2028',
    '\u2029',
    '\u2027',
    '\u202a',
    'a',
    '"',
    '\\',
    ';',
    '=',
    '?',
    '%',
    '\u00e9',
  ];
  for (const s of seededStrings(7, 5000, alphabet, 12)) t.is(goEscape(s), byRegExp(s), JSON.stringify(s));
  t.is(goEscape('<a>&'), '\\u003ca\\u003e\\u0026');
  t.is(goEscape('plain'), 'plain');
});

test('parseVersion takes what /^\\d+$/ took in each part, and refuses the rest with code 1', (t) => {
  const alphabet = ['0', '1', '9', '/', ':', '.', '', 'a', '\u0660', '\uff11', ' ', '+', '-', 'e'];
  for (const v of seededStrings(11, 5000, alphabet, 12)) {
    const parts = v.split('.');
    const valid = parts.length <= 3 && parts.every((p) => /^\d+$/.test(p));
    if (valid) t.deepEqual([...parseVersion(v)], [...parts.map(Number), 0, 0, 0].slice(0, 3), v);
    else t.is(t.throws(() => parseVersion(v), { instanceOf: CniError })?.code, 1, JSON.stringify(v));
  }
  for (let c = 0; c <= 0xffff; c++) {
    const s = String.fromCharCode(c);
    const accepted = (() => {
      try {
        parseVersion(s);
        return true;
      } catch {
        return false;
      }
    })();
    if (accepted !== /^\d+$/.test(s)) t.fail(`code unit ${c.toString(16)}`);
  }
});
