import test from 'ava';
import { Metrics, agentMetrics } from '../src/metrics.js';

test('text exposition: HELP, TYPE, labels escaped, counters start at 0', (t) => {
  const m = new Metrics();
  m.define('routes', 'gauge', 'Routes kept');
  m.define('runs_total', 'counter', 'Runs');
  m.set('routes', 3, { family: 'ipv4' });
  m.set('routes', 1, { family: 'ipv6' });
  t.is(
    m.render(),
    [
      '# HELP cni_ts_agent_routes Routes kept',
      '# TYPE cni_ts_agent_routes gauge',
      'cni_ts_agent_routes{family="ipv4"} 3',
      'cni_ts_agent_routes{family="ipv6"} 1',
      '# HELP cni_ts_agent_runs_total Runs',
      '# TYPE cni_ts_agent_runs_total counter',
      'cni_ts_agent_runs_total 0',
      '',
    ].join('\n'),
  );
  m.inc('runs_total', 2, { result: 'a"b\\c' });
  t.regex(m.render(), /cni_ts_agent_runs_total\{result="a\\"b\\\\c"\} 2/);
  t.is(m.get('runs_total', { result: 'a"b\\c' }), 2);
  t.throws(() => m.set('nope', 1), { message: /not defined/ });
});

test('the agent defines every metric it uses', (t) => {
  const text = agentMetrics().render();
  for (const name of ['ready', 'routes', 'ipam_reservations', 'ipam_leaks', 'gc_runs_total', 'route_changes_total'])
    t.regex(text, new RegExp(`# TYPE cni_ts_agent_${name} `));
});
