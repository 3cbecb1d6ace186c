// What upstream libcni v1.1.2 (the one behind Debian's Go plugins, and in containerd/CRI-O of that
// era) does to a result before handing it to the next plugin as prevResult: it decodes the bytes
// into the Go struct of the result's version and marshals that struct again. Unknown keys vanish,
// keys come out with Go's spelling (in struct order, or sorted when runtimeConfig is injected
// too), a 0.x IP without `version` gets `"version": ""`, and `dns` is always there. Written from libcni's struct tags
// (pkg/types/{040,100}/types.go), checked against captured libcni output in this package's tests.

type Json = Record<string, unknown>;

/** libcni v1.1.2's re-marshal of `result` (as its plugin printed it) for a list at `listVersion`. */
export function libcniReshape(result: unknown, listVersion: string): unknown {
  if (!isObject(result)) return result;
  const own = field(result, 'cniVersion');
  const version = typeof own === 'string' && own !== '' ? own : listVersion; // fixupResultVersion
  if (!/^0\.[34]\.|^1\.0\./.test(version)) return result; // 0.1/0.2 and 1.1.0 are not modelled here
  const v04 = version.startsWith('0.');
  const out: Json = { cniVersion: version };
  const ifs = list(field(result, 'interfaces')).map((i) =>
    put({ name: str(field(i, 'name')) }, { mac: field(i, 'mac'), sandbox: field(i, 'sandbox') }),
  );
  if (ifs.length) out.interfaces = ifs;
  const ips = list(field(result, 'ips')).map((ip) => {
    const head: Json = v04 ? { version: str(field(ip, 'version')) } : {};
    const idx = field(ip, 'interface');
    if (typeof idx === 'number') head.interface = idx;
    head.address = field(ip, 'address');
    return put(head, { gateway: field(ip, 'gateway') });
  });
  if (ips.length) out.ips = ips;
  const routes = list(field(result, 'routes')).map((r) => put({ dst: field(r, 'dst') }, { gw: field(r, 'gw') }));
  if (routes.length) out.routes = routes;
  const dns = isObject(field(result, 'dns')) ? (field(result, 'dns') as Json) : {};
  out.dns = put(
    {},
    {
      nameservers: nonEmpty(field(dns, 'nameservers')),
      domain: field(dns, 'domain'),
      search: nonEmpty(field(dns, 'search')),
      options: nonEmpty(field(dns, 'options')),
    },
  );
  return out;
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// Go's decoder matches keys case-insensitively; an exact match wins.
function field(obj: unknown, key: string): unknown {
  if (!isObject(obj)) return undefined;
  if (key in obj) return obj[key];
  const k = Object.keys(obj).find((o) => o.toLowerCase() === key.toLowerCase());
  return k === undefined ? undefined : obj[k];
}

function list(v: unknown): Json[] {
  return Array.isArray(v) ? v.filter(isObject) : [];
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

function nonEmpty(v: unknown): unknown {
  return Array.isArray(v) && v.length ? v : undefined;
}

// Adds the omitempty fields that are set, in order.
function put(head: Json, omitempty: Json): Json {
  for (const [k, v] of Object.entries(omitempty)) if (v !== undefined && v !== null && v !== '') head[k] = v;
  return head;
}
