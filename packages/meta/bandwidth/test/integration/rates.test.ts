// The rate an operator measures: iperf3 (TCP) between a client pod and a pod shaped through the
// Kubernetes annotations at the seed's 1M, both directions, each within ±20% from the first second
// on (the receiver's bytes per second; a run outside is measured once more, see measure); an
// unshaped pod on the same node is not limited. And containerd's 4294967295-bit bursts: Debian's
// Go plugin does not shape the first second at all, ours holds the rate. Short runs for CI;
// tools/bench/bandwidth-rates.mjs has the long trials.
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import { GO, type World, addPod, bandwidth, iperf, worldTest } from './kit.js';

const test = worldTest(anyTest as TestFn<{ w: World }>, 'bwr', 'bandwidth rates');

const RATE = 1_000_000;
const ANNOTATIONS = {
  runtimeConfig: {
    'io.kubernetes.cri.pod-annotations': {
      'kubernetes.io/ingress-bandwidth': '1M',
      'kubernetes.io/egress-bandwidth': '1M',
    },
  },
};

type Run = { intervals: number[]; mean: number };

const mbit = (x: number) => (x / 1e6).toFixed(3);
const shown = (what: string, run: Run) =>
  `${what}: ${run.intervals.map(mbit).join(' ')} Mbit/s per second, mean ${mbit(run.mean)}`;

/** What is wrong with a run: its first second or its mean outside 1 Mbit/s ±20% (none: undefined). */
function outside(run: Run): string | undefined {
  if (run.intervals.length < 2) return 'fewer than two whole seconds measured';
  for (const [label, v] of [
    ['first second', run.intervals[0]!],
    ['mean', run.mean],
  ] as const) {
    if (!(v >= 0.8 * RATE && v <= 1.2 * RATE)) return `${label} outside 1 Mbit/s ±20%`;
  }
  return undefined;
}

/**
 * Measures one direction (3 s, the receiver's bytes per second, iperf3 at nice -10) and asserts the
 * first second and the mean are within ±20%. A run outside is measured once more, and only that
 * second run is asserted: on a machine shared by several test suites a single run can lose the
 * CPU for a fraction of a second, in the kernel's softirqs too, where no priority reaches (the
 * qdisc's bucket holds 24 ms of traffic, so time lost there is not made up). The retry is logged with
 * both runs' figures; a plugin that shapes wrongly fails both.
 */
async function measure(t: ExecutionContext, what: string, run: () => Promise<Run>): Promise<void> {
  let r = await run();
  let wrong = outside(r);
  t.log(shown(what, r));
  if (wrong) {
    t.log(`${what}: ${wrong}; measuring once more (the only retry)`);
    r = await run();
    wrong = outside(r);
    t.log(shown(`${what}, second run`, r));
  }
  t.is(wrong, undefined, shown(what, r));
}

test.serial(
  'a pod shaped by the 1M annotations measures 1 Mbit/s ±20% both ways from the first second; its unshaped neighbour is not limited',
  async (t) => {
    const { w } = t.context;
    const web = await addPod(w, 'web');
    const free = await addPod(w, 'free');
    const cli = await addPod(w, 'cli');
    const r = await bandwidth(w, 'ADD', web, ANNOTATIONS);
    t.is(r.exitCode, 0, r.stdout);
    await measure(t, 'to the pod', () => iperf(web.ns, cli.ns, web.ip, { seconds: 3, priority: true }));
    await measure(t, 'from the pod', () =>
      iperf(web.ns, cli.ns, web.ip, { seconds: 3, reverse: true, priority: true }),
    );
    const unshaped = await iperf(free.ns, cli.ns, free.ip, { seconds: 1 });
    t.log(`unshaped neighbour: ${(unshaped.mean / 1e6).toFixed(0)} Mbit/s`);
    t.true(unshaped.mean > 20 * RATE, `the unshaped pod is limited: ${unshaped.mean} bit/s`);
  },
);

test.serial(
  "containerd's MaxUint32 bursts: the Go plugin lets the first second through unshaped; ours holds 1 Mbit/s ±20% from the first second",
  async (t) => {
    const { w } = t.context;
    const web = await addPod(w, 'web');
    const mine = await addPod(w, 'mine');
    const cli = await addPod(w, 'cli');
    const bw = { IngressRate: RATE, IngressBurst: 4294967295, EgressRate: RATE, EgressBurst: 4294967295 };
    const r = await bandwidth(w, 'ADD', web, { runtimeConfig: { bandwidth: bw } }, { plugin: GO });
    t.is(r.exitCode, 0, r.stdout);
    // 4 MB, which at 1 Mbit/s would take 32 s, arrive within a second
    const go = await iperf(web.ns, cli.ns, web.ip, { bytes: '4M' });
    t.log(`Go, 4 MB to the pod: ${(go.mean / 1e6).toFixed(1)} Mbit/s`);
    t.true(go.mean > 10 * RATE, 'far above the limit: the tbf holds a 21 MB bucket');
    // the same capability arguments through our plugin: the burst rule instead of the wrapped bucket
    const ours = await bandwidth(w, 'ADD', mine, { runtimeConfig: { bandwidth: bw } });
    t.is(ours.exitCode, 0, ours.stdout);
    await measure(t, 'ours, to the pod', () => iperf(mine.ns, cli.ns, mine.ip, { seconds: 3, priority: true }));
  },
);
