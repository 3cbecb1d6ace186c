import type { AddressInfo } from 'node:net';
import test from 'ava';
import { agentMetrics } from '../src/metrics.js';
import { startServer } from '../src/server.js';

test('/healthz, /readyz (503 with the problems, then 200) and /metrics', async (t) => {
  const metrics = agentMetrics();
  let ready = false;
  const server = await startServer('127.0.0.1:0', metrics, {
    ready: () => ready,
    problems: () => ['node n1 is not in the node list'],
  });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    t.is((await fetch(`${base}/healthz`)).status, 200);
    const r1 = await fetch(`${base}/readyz`);
    t.is(r1.status, 503);
    t.regex(await r1.text(), /not ready: node n1 is not in the node list/);
    ready = true;
    t.is((await fetch(`${base}/readyz`)).status, 200);
    metrics.set('routes', 2, { family: 'ipv4' });
    const m = await fetch(`${base}/metrics`);
    t.regex(m.headers.get('content-type') ?? '', /text\/plain; version=0\.0\.4/);
    t.regex(await m.text(), /^cni_ts_agent_routes\{family="ipv4"\} 2$/m);
    t.is((await fetch(`${base}/nope`)).status, 404);
    t.is((await fetch(`${base}/metrics`, { method: 'POST' })).status, 405);
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});
