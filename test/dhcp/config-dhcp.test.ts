// The DHCP fields of a node config (README "Node config reference"): `address: dhcp` with its
// `dhcp` settings, `peer_address: dhcp`, `dhcp_relay`; each bad value is reported on its field.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stringify } from 'yaml';
import { ConfigErrors, parseNodeConfig } from '../../src/control/config.js';
import type { NodeConfig } from '../../src/control/config-types.js';

type Raw = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const keying = (i: number) => ({ mode: 'manual', suite: 'aes-gcm-128', spi_in: 0x1000 + i, spi_out: 0x2000 + i, key_in: `k/in${i}.key`, key_out: `k/out${i}.key` });

function spoke(extra: Raw = {}): Raw {
  return { node: 'spoke-a', underlay: { address: '192.0.2.2' }, vlinks: [{ name: 'vl-hub', peer: '192.0.2.1', address: 'dhcp', keying: keying(0), ...extra }] };
}

function hub(relay: Raw | undefined, v0: Raw = {}): Raw {
  return {
    node: 'hub', underlay: { address: '192.0.2.1' }, vn_prefixes: ['10.10.0.0/16'],
    vlinks: [
      { name: 'vl-a', peer: '192.0.2.2', address: '10.10.0.1/32', peer_address: 'dhcp', keying: keying(0), ...v0 },
      { name: 'vl-core', peer: '192.0.2.9', address: '10.10.255.0/31', keying: keying(1) },
    ],
    ...(relay === undefined ? {} : { dhcp_relay: relay }),
  };
}

const parse = (raw: Raw): NodeConfig => parseNodeConfig(stringify(raw), { file: 'node.yaml', baseDir: '/etc/iiptran' });

function problems(raw: Raw): string[] {
  try {
    parse(raw);
  } catch (e) {
    assert.ok(e instanceof ConfigErrors, String(e));
    return e.problems.map((p) => `${p.field}: ${p.problem}`);
  }
  return [];
}

test('address: dhcp with defaults: client-id and host name are the node name, the lease file is under /var/lib/iiptran/dhcp', () => {
  const c = parse(spoke());
  assert.deepEqual(c.vlinks[0]!.dhcp, { role: 'client', clientId: 'spoke-a', hostname: 'spoke-a', leaseFile: '/var/lib/iiptran/dhcp/spoke-a-vl-hub.json', release: true });
  assert.equal(c.vlinks[0]!.address, 'dhcp');
  assert.equal(c.vlinks[0]!.prefixLen, 32);
  const d = parse(spoke({ peer_address: '10.10.0.1', dhcp: { client_id: 'spoke-a.example', hostname: 'a', lease_file: 'state/a.json', release: false } }));
  assert.deepEqual(d.vlinks[0]!.dhcp, { role: 'client', clientId: 'spoke-a.example', hostname: 'a', leaseFile: '/etc/iiptran/state/a.json', release: false });
  assert.equal(d.vlinks[0]!.peerAddress, '10.10.0.1');
});

test('dhcp_relay with defaults: every vlink that is not a client, burst 10 at 2/s, server-configured server id, metric 64', () => {
  const c = parse(hub({ address: '10.200.9.1', servers: ['10.200.9.2'] }));
  assert.deepEqual(c.dhcpRelay, { address: '10.200.9.1', servers: ['10.200.9.2'], vlinks: ['vl-a', 'vl-core'], rate: { burst: 10, perSecond: 2 }, serverId: 'server', routeMetric: 64 });
  assert.deepEqual(c.vlinks[0]!.dhcp, { role: 'peer' });
  assert.equal(c.vlinks[0]!.peerAddress, undefined);
});

test('bad DHCP settings are each reported on their field', () => {
  assert.deepEqual(problems(spoke({ dhcp: { client_id: '', hostnam: 'x', release: 'yes' } })), [
    'vlinks[0].dhcp.hostnam: unknown field; did you mean "hostname"? (allowed here: client_id, hostname, lease_file, release)',
    'vlinks[0].dhcp.client_id: must be a string of 1..254 bytes (got "")',
    'vlinks[0].dhcp.release: must be true or false (got "yes")',
  ]);
  assert.deepEqual(problems({ ...spoke(), vlinks: [{ ...spoke().vlinks[0], address: '10.255.0.1/31', dhcp: {} }] }), [
    "vlinks[0].dhcp: is only used with address: dhcp (the settings of this node's DHCP client on the vlink)",
  ]);
  assert.deepEqual(problems(spoke({ peer_address: 'dhcp' })), [
    "vlinks[0].peer_address: cannot be dhcp when address is dhcp too; peer_address: dhcp belongs on the relay's end of the vlink",
  ]);
  assert.deepEqual(problems(hub(undefined)), ['vlinks[0].peer_address: dhcp needs dhcp_relay: the peer end is the address the relay sees acknowledged on this vlink']);
  assert.deepEqual(problems(hub({ address: '10.200.9.1', servers: ['10.200.9.2'] }, { address: '10.10.0.0/31' })), [
    'vlinks[0].address: must have prefix /32 when peer_address is dhcp (point-to-point to the leased address), got /31',
  ]);
  assert.deepEqual(problems(hub({ address: '10.10.9.1', servers: ['10.200.9.2', 'x', '10.200.9.2', '10.10.0.7'], vlinks: ['vl-core', 'vl-zz'], rate: { per_second: 0 }, route_metric: 0, server_id: 'kea' })), [
    'dhcp_relay.servers[1]: must be an IPv4 address in dotted-quad form, e.g. 192.0.2.1 (got "x")',
    'dhcp_relay.servers[2]: 10.200.9.2 is listed twice',
    'dhcp_relay.vlinks[1]: must name a vlink of this node (vl-a, vl-core) (got "vl-zz")',
    'dhcp_relay.rate.per_second: must be an integer 1..10000 (got 0)',
    'dhcp_relay.server_id: must be one of server, rfc5107 (got "kea")',
    'dhcp_relay.route_metric: must be an integer 1..4294967295 (got 0)',
    'vlinks[0].peer_address: dhcp needs this vlink in dhcp_relay.vlinks (vl-core)',
    'dhcp_relay.address: 10.10.9.1 is inside vn_prefixes; the relay talks to its servers outside the overlay',
    'dhcp_relay.servers[3]: 10.10.0.7 is inside vn_prefixes; the guard would drop what the relay sends it',
  ]);
  assert.deepEqual(problems({ ...spoke(), dhcp_relay: { address: '10.200.9.1', servers: ['10.200.9.1'], vlinks: ['vl-hub'] } }), [
    'dhcp_relay.servers[0]: must differ from dhcp_relay.address (10.200.9.1): the relay would send to itself',
    'dhcp_relay.vlinks[0]: vl-hub has address: dhcp; a vlink where this node is a client cannot also be relayed',
  ]);
});
