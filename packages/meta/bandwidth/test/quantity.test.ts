// Kubernetes quantities: the cases apimachinery's own tests pin (pkg/api/resource/quantity_test.go),
// read through Quantity.Value() (rounded up to a whole number), plus the annotation range check.
import test from 'ava';
import { CniError } from '@cni-ts/types';
import { annotationRate, parseQuantity, quantityValue } from '../src/index.js';

const value = (s: string) => {
  const q = parseQuantity(s);
  return typeof q === 'string' ? q : quantityValue(q);
};

const VALUES: Array<[string, bigint]> = [
  ['0', 0n],
  ['0Ki', 0n],
  ['1', 1n],
  ['1Ki', 1024n],
  ['8Ki', 8192n],
  ['7Mi', 7n * 1024n ** 2n],
  ['6Gi', 6n * 1024n ** 3n],
  ['3Ei', 3n * 1024n ** 6n],
  ['8k', 8000n],
  ['50k', 50_000n],
  ['7M', 7_000_000n],
  ['2P', 2_000_000_000_000_000n],
  ['1E', 10n ** 18n],
  ['1E-3', 1n], // 0.001 rounds up to 1
  ['1e3', 1000n],
  ['1E6', 1_000_000n],
  ['1.3E+6', 1_300_000n],
  ['100.035k', 100_035n],
  ['0.0005k', 1n], // 0.5
  ['9.01', 10n], // Value() rounds up (TestQuantityRoundUp: 9.01 at scale 0 is 10)
  ['10.035M', 10_035_000n],
  ['100.035Ki', 102436n], // 102435.84
  ['0.5Mi', 524_288n],
  ['.001', 1n],
  ['1.', 1n],
  ['1.G', 1_000_000_000n],
  ['+1M', 1_000_000n],
  ['-1M', -1_000_000n],
  ['M', 0n], // an empty number is 0 in apimachinery's scanner
  ['1.5G', 1_500_000_000n],
  ['10Mi', 10_485_760n],
  ['500k', 500_000n],
];

for (const [text, want] of VALUES) {
  test(`quantity ${JSON.stringify(text)} has Value() ${want}`, (t) => {
    t.is(value(text), want);
  });
}

// apimachinery's `invalid` table, and the spellings people try
const INVALID: Array<[string, 'format' | 'suffix']> = [
  ['', 'format'],
  ['1.1.M', 'format'],
  ['1+1.0M', 'format'],
  ['0.1mi', 'suffix'],
  ['0.1am', 'format'],
  ['aoeu', 'format'],
  ['.5i', 'suffix'],
  ['1i', 'suffix'],
  ['-3.01i', 'suffix'],
  ['-3.01e-', 'suffix'],
  [' 1', 'format'],
  ['1 ', 'format'],
  ['1K', 'suffix'],
  ['1kb', 'format'],
  ['1Mbit', 'format'],
  ['1e', 'suffix'],
  ['1Mi5', 'suffix'],
  ['1M\n', 'format'],
];

for (const [text, why] of INVALID) {
  test(`quantity ${JSON.stringify(text)} is refused (${why})`, (t) => {
    t.is(value(text), why);
  });
}

test('annotations accept 1k to 1P (kubelet and containerd check the same range) and say why they refuse', (t) => {
  t.is(annotationRate('kubernetes.io/ingress-bandwidth', '1M'), 1_000_000);
  t.is(annotationRate('kubernetes.io/ingress-bandwidth', '1k'), 1000);
  t.is(annotationRate('kubernetes.io/ingress-bandwidth', '999.5'), 1000); // rounds up into range
  t.is(annotationRate('kubernetes.io/ingress-bandwidth', '1P'), 1e15);
  const cases: Array<[unknown, RegExp]> = [
    ['999', /unreasonably small \(< 1kbit\)/],
    ['0', /unreasonably small/],
    ['-1M', /unreasonably small/],
    ['1001T', /unreasonably large \(> 1Pbit\)/],
    ['2P', /unreasonably large/],
    ['1Kb', /unable to parse quantity's suffix|must match the regular expression/],
    ['ten', /must match the regular expression/],
    [5, /expected a string/],
  ];
  for (const [v, re] of cases) {
    const e = t.throws(() => annotationRate('kubernetes.io/egress-bandwidth', v), { instanceOf: CniError });
    t.is(e.code, 7);
    t.regex(e.message, re);
    t.true(e.message.includes(`kubernetes.io/egress-bandwidth=${JSON.stringify(v)}`), e.message);
  }
});
