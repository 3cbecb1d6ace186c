// The tbf arithmetic against values measured from the Go plugin and the kernel (not re-derived
// from our own functions): Debian's /usr/lib/cni/bandwidth v1.1.1 and `tc -raw qdisc show` here.
import test from 'ava';
import { burstForBuffer, goUint32, kernelBuffer, tbfFor, upstreamBuffer, upstreamLimit } from '../src/index.js';

test("upstream's own test vectors: 8000 bit/s with 80 bits gives rate 1000 and limit 35; 16/8 gives 2 and 1", (t) => {
  t.like(tbfFor(1000, 10), { rate: 1000, limit: 35 });
  t.like(tbfFor(2, 1), { rate: 2, limit: 1 });
  t.like(tbfFor(1, 1), { rate: 1, limit: 1 });
});

// [rate B/s, burst B, Go's buffer (ticks), Go's limit, what the kernel makes of `tc … burst <burst>`]
const MEASURED: Array<[number, number, number, number, number]> = [
  // ingressRate 3000000, ingressBurst 8000: Go truncates 2666.67 µs to 2666 before converting to ticks
  [375_000, 1000, 0xa2b8, 10375, 0xa2c2],
  // containerd's MaxUint32 burst at 1 Mbit/s: 4294967288 µs wraps around u32 in Go's tick conversion
  [125_000, 536_870_911, 0x9fffff83, 536_874_036, 0x9fffff83],
  // 1 Mbit/s with 80000 bits, 2 Mbit/s with 160000 bits (both exact in µs and in the kernel's ns)
  [125_000, 10_000, 0x1312d0, 13_125, 0x1312d0],
  [250_000, 20_000, 0x1312d0, 26_250, 0x1312d0],
];

for (const [rate, burst, goBuffer, goLimit, kernel] of MEASURED) {
  test(`rate ${rate} B/s burst ${burst} B: Go's buffer ${goBuffer} and limit ${goLimit}; the kernel's from tc ${kernel}`, (t) => {
    t.is(upstreamBuffer(rate, burst), goBuffer);
    t.is(upstreamLimit(rate, burst), goLimit);
    t.is(kernelBuffer(rate, burst), kernel);
  });
}

test("burstForBuffer finds the tc burst whose kernel buffer is upstream's whenever one exists", (t) => {
  // 10 Mbit/s = 1.25 MB/s: a byte is 800 ns = 12.5 ticks, so Go's whole-µs truncation is reachable when the
  // burst is a whole number of µs (a multiple of 5 bytes); then the burst asked for is kept
  for (const burst of [1515, 3030, 12_500, 99_995]) {
    const ticks = upstreamBuffer(1_250_000, burst);
    t.is(burstForBuffer(1_250_000, ticks, burst), burst, `burst ${burst}`);
    t.is(kernelBuffer(1_250_000, burst), ticks, `burst ${burst}`);
  }
  // 1514 B is 1211.2 µs: Go keeps 1211 µs (18921 ticks); tc's 1514 gives 18925 and 1513 gives 18912 (read back)
  t.is(upstreamBuffer(1_250_000, 1514), 18_921);
  t.is(kernelBuffer(1_250_000, 1514), 18_925);
  t.is(kernelBuffer(1_250_000, 1513), 18_912);
  t.is(burstForBuffer(1_250_000, 18_921, 1514), 1514); // the nearer of the two
  // 3 Mbit/s, 1000 B: 999 gives 41624 and 1000 gives 41666 around Go's 41656 (both read back from this kernel)
  t.is(kernelBuffer(375_000, 999), 41_624);
  t.is(burstForBuffer(375_000, 0xa2b8, 1000), 1000);
  // from 125 Mbit/s up a byte is at most one tick: every buffer has a burst, e.g. 1 Gbit/s with 1514 B
  for (const [rate, burst] of [
    [125_000_000, 1514],
    [15_625_000, 3333],
    [1_250_000_000, 777_777],
  ] as const) {
    const ticks = upstreamBuffer(rate, burst);
    const b = burstForBuffer(rate, ticks, burst);
    t.is(kernelBuffer(rate, b), ticks, `rate ${rate} burst ${burst}`);
    t.true(Math.abs(b - burst) <= Math.ceil(rate / 1e6), `rate ${rate}: burst ${burst} became ${b}`);
  }
});

test("goUint32 converts as Go's float64→uint32 does on amd64: truncation, then the low 32 bits", (t) => {
  t.is(goUint32(41_656.25), 41_656);
  t.is(goUint32(4_294_967_288 * 15.625), 0x9fffff83);
  t.is(goUint32(2 ** 32), 0);
  t.is(goUint32(2 ** 64), 0);
});
