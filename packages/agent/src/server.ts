// The agent's HTTP endpoints: /healthz (the process is alive and serving), /readyz (the node is
// configured: conflist installed, last pass clean) and /metrics (Prometheus text format).
import { type Server, createServer } from 'node:http';
import type { Metrics } from './metrics.js';

/** What the endpoints report on. */
export interface Status {
  ready(): boolean;
  problems(): string[];
}

/** Starts the server on host:port ("0.0.0.0:9309", "127.0.0.1:0"); resolves once it listens. */
export async function startServer(address: string, metrics: Metrics, status: Status): Promise<Server> {
  const i = address.lastIndexOf(':');
  const host = address.slice(0, i).replace(/^\[|\]$/g, '') || '0.0.0.0';
  const port = Number(address.slice(i + 1));
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
    } else if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else if (path === '/readyz') {
      const ok = status.ready();
      res
        .writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' })
        .end(ok ? 'ready\n' : `not ready: ${status.problems().join('; ') || 'starting'}\n`);
    } else if (path === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(metrics.render());
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}
