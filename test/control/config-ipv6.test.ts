// IPv6 in the node config (issue #10): a vlink's address6 and link_local, the derived link-local
// address, the ICMPv6 error source, the 1280-byte floor, an IPv6 underlay's MTU, and IPv6
// vn_prefixes. Every refusal names its field.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stringify } from 'yaml';
import { ConfigErrors, parseNodeConfig } from '../../src/control/config.js';
import { deriveLinkLocal, ipv6ErrorSource } from '../../src/control/config-ipv6.js';
import { formatIpv6, parseIpv6 } from '../../src/wire/ipv6-text.js';
import { vlinkMtu } from '../../src/dataplane/mtu.js';

type Raw = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function cfg(vlink: Raw = {}, top: Raw = {}): Raw {
  return {
    node: 'n1',
    underlay: { address: '192.0.2.1' },
    vlinks: [{
      name: 'vl0', peer: '192.0.2.10', address: '10.255.0.0/31',
      keying: { mode: 'manual', suite: 'aes-gcm-128', spi_in: 0x1000, spi_out: 0x2000, key_in: 'in.key', key_out: 'out.key' },
      ...vlink,
    }],
    ...top,
  };
}

const parse = (raw: Raw) => parseNodeConfig(stringify(raw), { file: 'node.yaml', baseDir: '/etc/iiptran' });

function problems(raw: Raw): { field: string; problem: string }[] {
  try {
    parse(raw);
  } catch (e) {
    assert.ok(e instanceof ConfigErrors, String(e));
    return e.errors.map((p) => ({ field: p.field, problem: p.problem }));
  }
  return assert.fail('accepted');
}

function rejects(raw: Raw, field: string, re: RegExp): void {
  const ps = problems(raw);
  assert.ok(ps.some((p) => p.field === field && re.test(p.problem)), `${field} ${re}: got ${JSON.stringify(ps)}`);
}

test('a vlink without address6 or link_local carries no IPv6', () => {
  const v = parse(cfg()).vlinks[0]!;
  assert.equal(v.linkLocal, undefined);
  assert.equal(v.address6, undefined);
  assert.equal(ipv6ErrorSource(v), null);
});

test('address6 is kept canonical; link_local defaults to fe80:: + the IPv4 address', () => {
  const v = parse(cfg({ address6: 'FD00:255:0:0::0/127' })).vlinks[0]!;
  assert.equal(v.address6, 'fd00:255::/127');
  assert.equal(v.prefixLen6, 127);
  assert.equal(v.linkLocal, 'fe80::aff:0');
  const other = parse(cfg({ address: '10.255.0.1/31', address6: 'fd00:255::1/127' })).vlinks[0]!;
  assert.equal(other.linkLocal, 'fe80::aff:1', 'the two ends derive different link-local addresses');
  assert.equal(parse(cfg({ link_local: 'auto' })).vlinks[0]!.linkLocal, 'fe80::aff:0', 'link_local alone turns IPv6 on');
  assert.equal(parse(cfg({ link_local: 'fe80::0:1' })).vlinks[0]!.linkLocal, 'fe80::1');
});

test('deriveLinkLocal: IPv4 first, then the low 64 bits of address6, else nothing', () => {
  assert.equal(deriveLinkLocal('10.255.0.2', undefined), 'fe80::aff:2');
  assert.equal(deriveLinkLocal('', parseIpv6('fd00:1:2:3:4:5:6:7')!), 'fe80::4:5:6:7');
  assert.equal(deriveLinkLocal('', parseIpv6('fd00:1:2:3::')!), undefined);
  assert.equal(deriveLinkLocal('', undefined), undefined);
});

test('bad address6 and link_local values are refused with the field named', () => {
  rejects(cfg({ address6: 'fd00::1' }), 'vlinks[0].address6', /IPv6 address with prefix length 1\.\.128/);
  rejects(cfg({ address6: 'fd00::1/129' }), 'vlinks[0].address6', /prefix length 1\.\.128/);
  rejects(cfg({ address6: 'fd00::/0' }), 'vlinks[0].address6', /prefix length 1\.\.128/);
  rejects(cfg({ address6: '10.0.0.1/24' }), 'vlinks[0].address6', /IPv6 address/);
  rejects(cfg({ address6: 'fe80::1/64' }), 'vlinks[0].address6', /not a link-local address .*set link_local for that/);
  rejects(cfg({ address6: 'ff02::5/128' }), 'vlinks[0].address6', /not a multicast address/);
  rejects(cfg({ address6: '::1/128' }), 'vlinks[0].address6', /not the loopback address/);
  rejects(cfg({ address6: '::ffff:10.0.0.1/128' }), 'vlinks[0].address6', /IPv4-mapped/);
  for (const bad of ['fd00::1', 'fe80::1/64', 'fe80::', 'fe80:1::1', 'fe81::1:2', 'yes', 7]) {
    rejects(cfg({ link_local: bad }), 'vlinks[0].link_local', /"auto" or a link-local address in fe80::\/64/);
  }
  rejects(cfg({ adress6: 'fd00::/127' }), 'vlinks[0].adress6', /did you mean "address6"/);
});

test('the ICMPv6 error source: the /127 partner, else address6, else the link-local address', () => {
  const src = (v: Raw) => formatIpv6(ipv6ErrorSource(parse(cfg(v)).vlinks[0]!)!);
  assert.equal(src({ address6: 'fd00:255::/127' }), 'fd00:255::1');
  assert.equal(src({ address6: 'fd00:255::1/127' }), 'fd00:255::');
  assert.equal(src({ address6: 'fd00:255::1/126' }), 'fd00:255::2');
  assert.equal(src({ address6: 'fd00:255::7/64' }), 'fd00:255::7');
  assert.equal(src({ link_local: 'fe80::9' }), 'fe80::9');
});

test('an IPv6 vlink needs 1280 bytes: a small underlay or mtu is refused on the field that sets it', () => {
  rejects(cfg({ address6: 'fd00::/127' }, { underlay: { address: '192.0.2.1', mtu: 1300 } }), 'vlinks[0].address6', /mtu: auto gives 1238 .*below 1280/);
  rejects(cfg({ address6: 'fd00::/127', mtu: 1200 }), 'vlinks[0].mtu', /1200 is below 1280/);
  assert.equal(parse(cfg({ mtu: 1200 })).vlinks[0]!.mtu, 1200, 'an IPv4-only vlink may be smaller');
});

test('an IPv6 underlay: 20 bytes more outer header, peers of its family, no named peers', () => {
  assert.equal(vlinkMtu(1500, 'udp', 6), vlinkMtu(1500, 'udp', 4) - 20);
  assert.equal(vlinkMtu(1500, 'esp', 6), 1426);
  const six = { underlay: { address: '2001:db8::1' } };
  const v = parse(cfg({ peer: '2001:db8::a' }, six)).vlinks[0]!;
  assert.equal(v.peer, '2001:db8::a');
  rejects(cfg({ peer: '2001:db8::a', mtu: 1430 }, six), 'vlinks[0].mtu', /over IPv6 leaves at most 1418/);
  rejects(cfg({}, six), 'vlinks[0].peer', /is an IPv4 address but underlay\.address 2001:db8::1 is IPv6/);
  rejects(cfg({ peer: '2001:db8::1' }, six), 'vlinks[0].peer', /must differ from underlay\.address/);
  rejects(cfg({ peer: '2001:0db8::1' }, six), 'vlinks[0].peer', /must differ from underlay\.address/);
  rejects(cfg({ peer: 'b.overlay.test' }, { ...six, dns: { servers: ['192.0.2.53'], dnssec: 'off' } }), 'vlinks[0].peer', /named peers are resolved to IPv4 addresses only/);
});

test('IPv6 vn_prefixes: canonical, no host bits, no overlap, never holding the underlay', () => {
  assert.deepEqual(parse(cfg({}, { vn_prefixes: ['FD00:10::/48', '10.10.0.0/16'] })).vnPrefixes, ['fd00:10::/48', '10.10.0.0/16']);
  rejects(cfg({}, { vn_prefixes: ['fd00:10::1/48'] }), 'vn_prefixes[0]', /host bits set; did you mean fd00:10::\/48\?/);
  rejects(cfg({}, { vn_prefixes: ['fd00::/16', 'fd00:10::/48'] }), 'vn_prefixes[1]', /overlaps vn_prefixes\[0\] \(fd00::\/16\)/);
  rejects(cfg({ peer: '2001:db8::a' }, { underlay: { address: '2001:db8::1' }, vn_prefixes: ['2001:db8::/32'] }), 'vn_prefixes[0]', /contains underlay\.address 2001:db8::1/);
  rejects(cfg({}, { vn_prefixes: ['fd00::/129'] }), 'vn_prefixes[0]', /IPv6 prefix with length 0\.\.128/);
});

test('a node starts on an IPv6 underlay: its vlink has IPv6 outer addresses and the IPv6 MTU', async () => {
  const { OverlayNode } = await import('../../src/control/node.js');
  const { FakeUnderlay } = await import('../../src/io/fake-underlay.js');
  const { fakeNodeIo } = await import('./fake-node-io.js');
  const { formatAddr } = await import('../../src/wire/addr.js');
  const pino = (await import('pino')).default;
  const fs = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iit-u6-'));
  const { writeKeyFile } = await import('../../src/control/keyfile.js');
  writeKeyFile(path.join(dir, 'in.key'), 'aes-gcm-128');
  writeKeyFile(path.join(dir, 'out.key'), 'aes-gcm-128');
  const cfg6 = parse({ ...cfg({ peer: '2001:db8::2', key_in: undefined }), underlay: { address: '2001:db8::1' } });
  cfg6.vlinks[0]!.keying = { ...cfg6.vlinks[0]!.keying, keyIn: path.join(dir, 'in.key'), keyOut: path.join(dir, 'out.key') } as never;
  const n = new OverlayNode(cfg6, fakeNodeIo(new FakeUnderlay('2001:db8::1', 4500), new Map()), pino({ level: 'silent' }));
  try {
    await n.start();
    const v = n.vlinks.get('vl0')!;
    assert.deepEqual([formatAddr(v.local), formatAddr(v.peer), v.mtu], ['2001:db8::1', '2001:db8::2', 1418]);
    assert.equal(formatAddr(v.policy.sa!.dst), '2001:db8::2');
  } finally {
    await n.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
