// Prometheus metrics in the text exposition format (version 0.0.4): counters and gauges with
// labels, enough for the agent; no client library needed.

type Labels = Record<string, string>;

interface Family {
  help: string;
  type: 'counter' | 'gauge';
  values: Map<string, { labels: Labels; value: number }>;
}

/** The agent's metrics; names are printed with the `cni_ts_agent_` prefix. */
export class Metrics {
  private readonly families = new Map<string, Family>();

  /** Declares a metric (idempotent). */
  define(name: string, type: 'counter' | 'gauge', help: string): void {
    if (!this.families.has(name)) this.families.set(name, { help, type, values: new Map() });
  }

  /** Sets a gauge. */
  set(name: string, value: number, labels: Labels = {}): void {
    this.family(name).values.set(key(labels), { labels, value });
  }

  /** Adds to a counter (or a gauge). */
  inc(name: string, by = 1, labels: Labels = {}): void {
    const f = this.family(name);
    const k = key(labels);
    f.values.set(k, { labels, value: (f.values.get(k)?.value ?? 0) + by });
  }

  /** The current value (0 when never set). */
  get(name: string, labels: Labels = {}): number {
    return this.family(name).values.get(key(labels))?.value ?? 0;
  }

  /** The exposition text served on /metrics. */
  render(): string {
    let out = '';
    for (const [name, f] of this.families) {
      const full = `cni_ts_agent_${name}`;
      out += `# HELP ${full} ${f.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}\n# TYPE ${full} ${f.type}\n`;
      const values = f.values.size ? [...f.values.values()] : f.type === 'counter' ? [{ labels: {}, value: 0 }] : [];
      for (const v of values) out += `${full}${formatLabels(v.labels)} ${formatValue(v.value)}\n`;
    }
    return out;
  }

  private family(name: string): Family {
    const f = this.families.get(name);
    if (!f) throw new Error(`metric ${name} is not defined`);
    return f;
  }
}

function key(labels: Labels): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)));
}

function formatLabels(labels: Labels): string {
  const e = Object.entries(labels);
  if (!e.length) return '';
  const esc = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
  return `{${e.map(([k, v]) => `${k}="${esc(v)}"`).join(',')}}`;
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Number.POSITIVE_INFINITY) return '+Inf';
  if (v === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(v);
}

/** Defines every metric the agent exports, so /metrics lists them from the start. */
export function agentMetrics(): Metrics {
  const m = new Metrics();
  m.define('ready', 'gauge', '1 when the conflist is installed and the last reconcile succeeded');
  m.define('nodes', 'gauge', 'Nodes known to the agent, this one included');
  m.define('routes', 'gauge', 'Routes to other nodes’ pod CIDRs the agent keeps, by address family');
  m.define(
    'route_errors',
    'gauge',
    'Route changes the kernel refused at the last pass (e.g. an InternalIP not on a connected network)',
  );
  m.define('route_changes_total', 'counter', 'Routes added, replaced or removed');
  m.define('route_skipped', 'gauge', 'Pod CIDRs of other nodes that cannot be routed (no InternalIP of that family)');
  m.define('masquerade_changes_total', 'counter', 'iptables-restore batches applied to the masquerade chain');
  m.define('conflist_writes_total', 'counter', 'Times the conflist was (re)written');
  m.define('binary_writes_total', 'counter', 'Plugin executables installed or replaced');
  m.define(
    'executable_warm_bytes_total',
    'counter',
    'Bytes of the conflist’s executables read back into the page cache at the agent’s start',
  );
  m.define('reconciles_total', 'counter', 'Reconcile passes, by result');
  m.define('ipam_reservations', 'gauge', 'host-local reservations of this node’s network, at the last GC');
  m.define('ipam_leaks', 'gauge', 'Reservations that belonged to no pod sandbox of the runtime, at the last GC');
  m.define('gc_runs_total', 'counter', 'Scheduled CNI GC runs, by result (ok, error, skipped)');
  m.define('gc_released_total', 'counter', 'Reservations that scheduled GC freed');
  return m;
}
