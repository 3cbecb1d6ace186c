// Netlink requests a traced tool sent, read back from `strace -e write=3` (the tests that hold our
// requests to the tools' own, byte for byte: tc-requests, direct).

/** The buffers a traced process wrote to fd 3, from strace's hex dumps (one per sendmsg/sendto). */
export function written(trace: string): Uint8Array[] {
  const out: number[][] = [];
  let cur: number[] | undefined;
  for (const line of trace.split('\n')) {
    if (/^\d+\s+\w+\(/.test(line)) {
      cur = [];
      out.push(cur);
      continue;
    }
    // " | 00010  xx xx … xx  xx … xx  ascii |": 16 bytes in two groups of 8, 49 characters
    const m = /^\s*\|\s+[0-9a-f]{5} {2}(.{1,49})/.exec(line);
    if (m && cur) for (const b of m[1]!.match(/[0-9a-f]{2}/g) ?? []) cur.push(Number.parseInt(b, 16));
  }
  return out.filter((b) => b.length >= 16).map((b) => Uint8Array.from(b));
}

/** A message as hex with its sequence number and port id zeroed. */
export const normal = (m: Uint8Array): string => {
  const c = Uint8Array.from(m);
  c.fill(0, 8, 16);
  return Buffer.from(c).toString('hex');
};
