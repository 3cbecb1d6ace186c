// A registry on 127.0.0.1 that keeps what `npm publish` sends it in memory and serves it to
// `npm install`/`npx`: the dry run publishes every package there and installs from it as a user
// would, offline, with npm choosing the platform package from the published os/cpu/libc.
import { createServer } from 'node:http';

/** Starts the registry; resolves with { url, packuments, close() }. */
export function startRegistry() {
  const packuments = new Map();
  const tarballs = new Map();
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
      const send = (code, body, type = 'application/json') => {
        res.writeHead(code, { 'content-type': type });
        res.end(typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body));
      };
      if (req.method === 'PUT') {
        const doc = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        const have = packuments.get(doc.name) ?? { name: doc.name, versions: {}, 'dist-tags': {} };
        for (const [v, m] of Object.entries(doc.versions)) {
          if (have.versions[v]) return send(403, { error: `${doc.name}@${v} exists` });
          have.versions[v] = m;
        }
        Object.assign(have['dist-tags'], doc['dist-tags']);
        for (const [file, a] of Object.entries(doc._attachments ?? {}))
          tarballs.set(`/${doc.name}/-/${file}`, Buffer.from(a.data, 'base64'));
        packuments.set(doc.name, have);
        return send(201, { ok: true });
      }
      if (tarballs.has(path)) return send(200, tarballs.get(path), 'application/octet-stream');
      const doc = packuments.get(path.slice(1));
      return doc ? send(200, doc) : send(404, { error: 'not found' });
    });
  });
  return new Promise((done) => {
    server.listen(0, '127.0.0.1', () => {
      const url = `http://127.0.0.1:${server.address().port}/`;
      done({ url, packuments, close: () => new Promise((c) => server.close(c)) });
    });
  });
}
