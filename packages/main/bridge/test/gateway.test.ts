import test from 'ava';
import { calcGateways, gatewayFor } from '../src/gateway.js';
import { routeAdd } from '../src/plan-pod.js';
import type { BridgeConf } from '../src/config.js';

const conf = (over: Partial<BridgeConf>) => ({ isGateway: false, isDefaultGateway: false, ...over }) as BridgeConf;

test('the gateway is the first address of the subnet', (t) => {
  t.is(gatewayFor('10.22.0.77/24'), '10.22.0.1');
  t.is(gatewayFor('fd00:1:2::99/64'), 'fd00:1:2::1');
});

test('without isGateway, addresses pass through (interface 2) and there is no gateway on the bridge', (t) => {
  const g = calcGateways(conf({}), [{ address: '10.22.0.2/24', interface: 0 }], [{ dst: '10.0.0.0/8' }]);
  t.deepEqual(g, { ips: [{ interface: 2, address: '10.22.0.2/24' }], routes: [{ dst: '10.0.0.0/8' }], gateways: [] });
});

test('isGateway fills missing gateways and puts them on the bridge with the address prefix; IPAM gateways win', (t) => {
  const g = calcGateways(
    conf({ isGateway: true }),
    [{ address: '10.22.0.2/24', gateway: '10.22.0.254' }, { address: 'fd00::5/64' }],
    [],
  );
  t.deepEqual(g.ips, [
    { interface: 2, address: '10.22.0.2/24', gateway: '10.22.0.254' },
    { interface: 2, address: 'fd00::5/64', gateway: 'fd00::1' },
  ]);
  t.deepEqual(g.gateways, [
    { family: 4, cidr: '10.22.0.254/24' },
    { family: 6, cidr: 'fd00::1/64' },
  ]);
});

test('isDefaultGateway adds one default route per family, unless IPAM already has one with a gateway', (t) => {
  const ips = [{ address: '10.22.0.2/24' }, { address: '10.23.0.2/24' }, { address: 'fd00::5/64' }];
  const g = calcGateways(conf({ isGateway: true, isDefaultGateway: true }), ips, [{ dst: '::/0', gw: 'fd00::fe' }]);
  t.deepEqual(g.routes, [
    { dst: '::/0', gw: 'fd00::fe' },
    { dst: '0.0.0.0/0', gw: '10.22.0.1' },
  ]);
  const noGw = calcGateways(
    conf({ isGateway: true, isDefaultGateway: true }),
    [{ address: '10.22.0.2/24' }],
    [{ dst: '0.0.0.0/0' }],
  );
  t.deepEqual(
    noGw.routes,
    [{ dst: '0.0.0.0/0' }, { dst: '0.0.0.0/0', gw: '10.22.0.1' }],
    'a default route without a gateway does not count (as upstream)',
  );
});

test('routes carry metric, table, scope, mtu and advmss; a route without gw uses the family gateway', (t) => {
  t.deepEqual(
    routeAdd({ dst: '10.9.0.0/16', priority: 100, table: 200, scope: 0, mtu: 1400, advmss: 1360 }, 'eth0', '10.22.0.1'),
    [
      'route',
      'add',
      '10.9.0.0/16',
      'via',
      '10.22.0.1',
      'dev',
      'eth0',
      'metric',
      '100',
      'table',
      '200',
      'scope',
      '0',
      'mtu',
      '1400',
      'advmss',
      '1360',
    ],
  );
  t.deepEqual(routeAdd({ dst: '10.9.0.0/16' }, 'eth0', undefined), ['route', 'add', '10.9.0.0/16', 'dev', 'eth0']);
});
