// Where the limits come from and every refusal before anything is created.
import test from 'ava';
import { type Context, decodeNetConf } from '@cni-ts/skel';
import { CniError } from '@cni-ts/types';
import { loadConf } from '../src/index.js';
import { confOf } from './helpers.js';

const load = (config: Record<string, unknown>) => {
  const { name, cniVersion, ...rest } = loadConf(confOf(config));
  return rest;
};
const refuse = (t: import('ava').ExecutionContext, config: Record<string, unknown>, re: RegExp) => {
  const e = t.throws(() => loadConf(confOf(config)), { instanceOf: CniError });
  t.is(e.code, 7, e.message);
  t.regex(`${e.message} ${e.details}`, re);
};
const ANN = 'io.kubernetes.cri.pod-annotations';

test('runtimeConfig.bandwidth in bits/s and bits, lower-case keys as the CNI conventions spell them', (t) => {
  t.deepEqual(
    load({
      runtimeConfig: { bandwidth: { ingressRate: 1e6, ingressBurst: 8e5, egressRate: 2e6, egressBurst: 1.6e6 } },
    }),
    {
      ingress: { rate: 1e6, burst: 8e5, source: 'runtimeConfig.bandwidth' },
      egress: { rate: 2e6, burst: 1.6e6, source: 'runtimeConfig.bandwidth' },
    },
  );
});

test("containerd's CRI keys (IngressRate, …) with its 4294967295 bursts read as 'no burst given', zeros as 'no limit'", (t) => {
  t.deepEqual(
    load({
      runtimeConfig: {
        bandwidth: { IngressRate: 0, IngressBurst: 0, EgressRate: 1_000_000, EgressBurst: 4294967295 },
      },
    }),
    { egress: { rate: 1_000_000, criNoBurst: true, source: 'runtimeConfig.bandwidth' } },
  );
  // upstream's own test data spells the capability "bandWidth"
  t.deepEqual(load({ RuntimeConfig: { bandWidth: { ingressRate: 8000 } } }), {
    ingress: { rate: 8000, source: 'runtimeConfig.bandwidth' },
  });
});

test('static keys win over runtimeConfig as a whole, as upstream (any one key present hides runtimeConfig)', (t) => {
  t.deepEqual(
    load({ egressRate: 16, egressBurst: 8, runtimeConfig: { bandwidth: { ingressRate: 1e6, ingressBurst: 1e6 } } }),
    {
      egress: { rate: 16, burst: 8, source: 'config' },
    },
  );
  t.deepEqual(load({ ingressRate: 0, runtimeConfig: { bandwidth: { ingressRate: 1e6, ingressBurst: 1e6 } } }), {});
});

test('the annotations are read when the runtime sends no bandwidth capability; runtimeConfig.bandwidth wins over them', (t) => {
  const annotations = {
    'kubernetes.io/ingress-bandwidth': '1M',
    'kubernetes.io/egress-bandwidth': '10Mi',
    other: 'x y',
  };
  t.deepEqual(load({ runtimeConfig: { [ANN]: annotations } }), {
    ingress: { rate: 1_000_000, source: 'annotation' },
    egress: { rate: 10_485_760, source: 'annotation' },
  });
  t.deepEqual(load({ runtimeConfig: { [ANN]: annotations, bandwidth: { ingressRate: 5e6 } } }), {
    ingress: { rate: 5e6, source: 'runtimeConfig.bandwidth' },
  });
  // annotations that are not ours are never judged
  t.deepEqual(load({ runtimeConfig: { [ANN]: { 'kubernetes.io/ingress-bandwidth': '1M', junk: 5 } } }), {
    ingress: { rate: 1_000_000, source: 'annotation' },
  });
});

test('no limits at all: nothing to do', (t) => {
  t.deepEqual(load({}), {});
  t.deepEqual(load({ runtimeConfig: { portMappings: [] } }), {});
  t.deepEqual(load({ runtimeConfig: { bandwidth: {} } }), {});
});

test("keys in any case at every level, the last spelling winning as in Go's decoder; keys named like Object's own are plain keys", (t) => {
  t.deepEqual(load({ EGRESSRATE: 8000, egressrate: 16000, EgressBurst: 800 }), {
    egress: { rate: 16000, burst: 800, source: 'config' },
  });
  t.deepEqual(load({ egressRate: 16000, EGRESSRATE: 8000 }), { egress: { rate: 8000, source: 'config' } });
  t.deepEqual(
    load({ RUNTIMECONFIG: { 'IO.Kubernetes.CRI.Pod-Annotations': { 'kubernetes.io/egress-bandwidth': '1M' } } }),
    { egress: { rate: 1_000_000, source: 'annotation' } },
  );
  // annotation names are Kubernetes' own: never folded
  t.deepEqual(load({ runtimeConfig: { [ANN]: { 'Kubernetes.io/egress-bandwidth': '1M' } } }), {});
  const odd = JSON.parse('{"__proto__": {"ingressRate": 8000}, "constructor": 1, "toString": {}, "hasOwnProperty": 2}');
  t.deepEqual(load(odd), {});
  t.deepEqual(load({ ...odd, runtimeConfig: { ...odd, bandwidth: { ...odd, ingressRate: 8000 } } }), {
    ingress: { rate: 8000, source: 'runtimeConfig.bandwidth' },
  });
});

test('a burst without a rate is refused, naming both keys', (t) => {
  refuse(t, { ingressBurst: 8000 }, /ingressBurst is set \(8000 bits\) but ingressRate is not/);
  refuse(t, { runtimeConfig: { bandwidth: { EgressBurst: 80 } } }, /runtimeConfig\.bandwidth\.egressBurst is set/);
});

test('negative, fractional, non-numeric and unsafe values are refused with the key and the value', (t) => {
  refuse(t, { ingressRate: -1, ingressBurst: 8 }, /invalid ingressRate: -1 is negative/);
  refuse(t, { ingressRate: 1.5, ingressBurst: 8 }, /invalid ingressRate: 1.5 is not a whole number/);
  refuse(t, { egressRate: '1M' }, /invalid egressRate: expected a number, got "1M"/);
  refuse(t, { egressRate: 1e6, egressBurst: 2 ** 60 }, /egressBurst: .* is too large/);
  refuse(t, { runtimeConfig: { bandwidth: 'fast' } }, /runtimeConfig.bandwidth: expected an object/);
});

test('a malformed annotation is refused with the annotation and its value', (t) => {
  refuse(
    t,
    { runtimeConfig: { [ANN]: { 'kubernetes.io/egress-bandwidth': '1Mbit' } } },
    /kubernetes.io\/egress-bandwidth="1Mbit"/,
  );
  refuse(t, { runtimeConfig: { [ANN]: { 'kubernetes.io/ingress-bandwidth': '100' } } }, /unreasonably small/);
});

test('a value nested too deep for JSON.stringify is named in a code-7 message, not a code-999 crash', (t) => {
  const deep = `${'['.repeat(100000)}${']'.repeat(100000)}`;
  // the stdin text is written by hand: JSON.stringify itself cannot print the value
  const refuseText = (inner: string, re: RegExp) => {
    const stdin = `{"cniVersion":"1.0.0","name":"bwnet","type":"bandwidth",${inner}}`;
    const e = t.throws(() => loadConf({ conf: decodeNetConf(stdin) } as Context), { instanceOf: CniError });
    t.is(e.code, 7, e.message);
    t.regex(e.message, re);
  };
  refuseText(`"ingressRate":${deep}`, /invalid ingressRate: expected a number, got a value nested too deep to print/);
  refuseText(
    `"runtimeConfig":{"bandwidth":{"egressRate":${deep}}}`,
    /invalid runtimeConfig\.bandwidth\.egressRate: expected a number, got a value nested too deep to print/,
  );
  refuseText(
    `"runtimeConfig":{"${ANN}":{"kubernetes.io/egress-bandwidth":${deep}}}`,
    /invalid pod annotation kubernetes\.io\/egress-bandwidth=a value nested too deep to print: expected a string/,
  );
  // a long value is cut, so the message stays readable
  refuse(t, { ingressRate: 'x'.repeat(5000) }, /got "x{116}\.\.\. /);
});
