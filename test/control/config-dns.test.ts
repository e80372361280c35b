// The `dns` section and named peers in the node config, and the dnssec policy that decides
// whether an answer may be used (peer-names.ts judge).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { ConfigErrors, parseNodeConfig, type ConfigProblem } from '../../src/control/config.js';
import { hostName } from '../../src/control/config-dns.js';
import { judge } from '../../src/control/peer-names.js';
import type { LookupResult } from '../../src/dns/resolver.js';
import { reason } from '../../src/dns/verdict.js';
import { parseRR } from '../../src/wire/dns/index.js';

type Raw = Record<string, any>;
const DS = 'overlay.test. 3600 IN DS 2371 13 2 1F987A5FD5A7D6E0AE1F4A1F43B7FD0E8E0F2D0C3F1FAE3F0C6C07B4C71DB07C';

function cfg(vlink: Raw = {}, dns: Raw | null = { servers: ['192.0.2.53'], trust_anchors: [DS] }): Raw {
  return {
    node: 'n1',
    underlay: { address: '192.0.2.1' },
    ...(dns === null ? {} : { dns }),
    vlinks: [{
      name: 'vl0', peer: 'b.overlay.test', address: '10.0.0.0/31',
      keying: { mode: 'ikev2', psk_file: 'psk' },
      ...vlink,
    }],
  };
}

function problems(c: Raw): ConfigProblem[] {
  try {
    parseNodeConfig(stringify(c), { file: 'node.yaml', baseDir: '/etc/iiptran' });
  } catch (e) {
    assert.ok(e instanceof ConfigErrors, String(e));
    return [...e.problems];
  }
  assert.fail('config was accepted');
}

function one(c: Raw, field: string, re: RegExp): void {
  const p = problems(c).find((x) => x.field === field);
  assert.ok(p !== undefined, `no problem for ${field}: ${JSON.stringify(problems(c))}`);
  assert.match(p.problem, re);
}

test('a named peer parses: name kept in canonical form, peer empty, peer_resolve defaults to dynamic, dns filled in', () => {
  const c = parseNodeConfig(stringify(cfg({ peer: 'B.Overlay.Test.' })), { baseDir: '/etc/iiptran' });
  const v = c.vlinks[0]!;
  assert.equal(v.peer, '');
  assert.equal(v.peerName, 'b.overlay.test');
  assert.equal(v.peerResolve, 'dynamic');
  assert.deepEqual(c.dns!.servers, [{ address: '192.0.2.53', port: 53 }]);
  assert.equal(c.dns!.dnssec, 'require');
  assert.equal(c.dns!.timeoutMs, 5000);
  assert.equal(c.dns!.trustAnchorsFrom, 'inline');
  assert.equal(c.dns!.trustAnchors.length, 1);
  const once = parseNodeConfig(stringify(cfg({ peer_resolve: 'once' }, { servers: ['192.0.2.53:5353'], dnssec: 'off' })), { baseDir: '/x' });
  assert.equal(once.vlinks[0]!.peerResolve, 'once');
  assert.deepEqual(once.dns!.servers, [{ address: '192.0.2.53', port: 5353 }]);
  assert.deepEqual(once.dns!.trustAnchors, []);
});

test('trust anchors from a file, resolved next to the config', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iit-anchor-'));
  fs.writeFileSync(path.join(dir, 'anchors'), DS + '\n');
  const c = parseNodeConfig(stringify(cfg({}, { servers: ['192.0.2.53'], trust_anchors: 'anchors' })), { baseDir: dir });
  assert.equal(c.dns!.trustAnchorsFrom, path.join(dir, 'anchors'));
  one(cfg({}, { servers: ['192.0.2.53'], trust_anchors: 'missing' }), 'dns.trust_anchors', /cannot read .*missing/);
});

test('named-peer config errors name the field', () => {
  one(cfg({}, null), 'vlinks[0].peer', /is a host name \(b\.overlay\.test\), so the node needs a dns section/);
  one(cfg({}, { servers: ['192.0.2.53'] }), 'dns.trust_anchors', /is required with dnssec: require/);
  one(cfg({}, { servers: ['192.0.2.53'], trust_anchors: ['b.overlay.test. IN A 192.0.2.2'] }), 'dns.trust_anchors', /only DS and DNSKEY records are trust anchors/);
  one(cfg({}, { servers: ['dns.example:53'], dnssec: 'off' }), 'dns.servers[0]', /must be an IPv4 address with an optional :port/);
  one(cfg({}, { servers: [], dnssec: 'off' }), 'dns.servers', /non-empty list/);
  one(cfg({}, { servers: ['192.0.2.53'], dnssec: 'maybe' }), 'dns.dnssec', /require|prefer|off/);
  one(cfg({}, { servers: ['192.0.2.53'], dnssec: 'off', resolver: 'x' }), 'dns.resolver', /unknown field/);
  one(cfg({ peer: '192.0.2.2', peer_resolve: 'once' }), 'vlinks[0].peer_resolve', /applies only when peer is a host name/);
  one(cfg({ peer_resolve: 'always' }), 'vlinks[0].peer_resolve', /dynamic|once/);
  for (const bad of ['localhost', 'b..overlay.test', '-b.overlay.test', '192.0.2.300', 'b.overlay.123', 'b overlay.test']) {
    const p = problems(cfg({ peer: bad }));
    assert.ok(p.some((x) => x.field === 'vlinks[0].peer'), `${bad}: ${JSON.stringify(p)}`);
  }
  const two = cfg();
  two.vlinks.push({ ...two.vlinks[0], name: 'vl1', address: '10.0.0.2/31' });
  one(two, 'vlinks[1].peer', /already names b\.overlay\.test/);
});

test('hostName: RFC 1123 labels, two or more, not a mistyped address', () => {
  assert.equal(hostName('B.Overlay.TEST.'), 'b.overlay.test');
  assert.equal(hostName('_500.b.overlay.test'), '_500.b.overlay.test');
  assert.equal(hostName('a-b.c'), 'a-b.c');
  for (const bad of ['b', 'b.', '.b.test', 'b-.test', 'b.test-', '1.2.3.4', `${'x'.repeat(64)}.test`, `${'a.'.repeat(127)}test`]) assert.equal(hostName(bad), undefined, bad);
});

function result(verdict: LookupResult['verdict'], status: LookupResult['status'], addrs: string[]): LookupResult {
  return {
    name: 'b.overlay.test.', type: 1, verdict, status, cnames: [], ttl: 60, cached: false,
    reason: verdict === 'secure' ? null : reason(verdict === 'bogus' ? 'SIGNATURE_EXPIRED' : verdict === 'insecure' ? 'OTHER' : 'NO_REACHABLE_AUTHORITY', 'x'),
    rrset: addrs.map((a) => parseRR(`b.overlay.test. 60 IN A ${a}`)),
  };
}

test('judge: the dnssec policy table, and addresses that can never be a peer', () => {
  const host = { underlay: '192.0.2.1', vnPrefixes: ['10.0.0.0/8'] };
  const ok = (r: LookupResult, p: 'require' | 'prefer' | 'off') => judge(r, p, host).ok;
  for (const p of ['require', 'prefer', 'off'] as const) {
    assert.equal(ok(result('secure', 'answer', ['192.0.2.2']), p), true, `secure under ${p}`);
    assert.equal(ok(result('bogus', 'answer', ['192.0.2.2']), p), false, `bogus under ${p}`);
    assert.equal(ok(result('indeterminate', 'error', []), p), false, `indeterminate under ${p}`);
    assert.equal(ok(result('insecure', 'answer', ['192.0.2.2']), p), p !== 'require', `insecure under ${p}`);
  }
  const bogus = judge(result('bogus', 'answer', ['192.0.2.2']), 'off', host);
  assert.ok(!bogus.ok && /^bogus: never used \(7 Signature Expired: x\)$/.test(bogus.why));
  const insecure = judge(result('insecure', 'answer', ['192.0.2.2']), 'prefer', host);
  assert.ok(insecure.ok && insecure.warn !== null && /insecure answer used/.test(insecure.warn));
  const nx = judge(result('secure', 'nxdomain', []), 'require', host);
  assert.ok(!nx.ok && /^no such name \(secure\)$/.test(nx.why));
  const mixed = judge(result('secure', 'answer', ['192.0.2.1', '10.1.2.3', '127.0.0.1', '224.0.0.5', '192.0.2.7']), 'require', host);
  assert.ok(mixed.ok);
  assert.deepEqual(mixed.addresses, ['192.0.2.7']);
  const none = judge(result('secure', 'answer', ['192.0.2.1', '10.1.2.3']), 'require', host);
  assert.ok(!none.ok && /our own underlay address.*inside vn_prefixes/.test(none.why));
});

test('peer_domain and auth: dns: parsed, and their config errors name the field', () => {
  const c = parseNodeConfig(stringify(cfg({ peer: undefined, peer_domain: 'Site-B.Test.', keying: { mode: 'ikev2', auth: 'dns', private_key: 'k.key', local_id: 'site-a.test' } })), { baseDir: '/etc/iiptran' });
  const v = c.vlinks[0]!;
  assert.equal(v.peerDomain, 'site-b.test');
  assert.equal(v.peer, '');
  assert.ok(v.keying.mode === 'ikev2' && v.keying.auth === 'dns' && v.keying.peerPublicKey === '' && v.keying.privateKey === '/etc/iiptran/k.key');
  const dnsKeying = { mode: 'ikev2', auth: 'dns', private_key: 'k.key' };
  one(cfg({ peer_domain: 'site-b.test', keying: dnsKeying }), 'vlinks[0].peer_domain', /and peer exclude each other/);
  one(cfg({ peer: undefined, peer_domain: 'site_b', keying: dnsKeying }), 'vlinks[0].peer_domain', /must be a domain name of two labels or more/);
  one(cfg({ peer: undefined, peer_domain: 'site-b.test', keying: { mode: 'manual', suite: 'aes-gcm-128', spi_in: 0x1000, spi_out: 0x2000, key_in: 'i', key_out: 'o' } }), 'vlinks[0].peer_domain', /needs keying mode ikev2/);
  one(cfg({ peer: undefined, peer_domain: 'site-b.test', keying: dnsKeying }, { servers: ['192.0.2.53'], dnssec: 'off' }), 'vlinks[0].peer_domain', /counts only DNSSEC-secure answers, so it cannot work with dns.dnssec: off/);
  one(cfg({ peer: '192.0.2.2', keying: dnsKeying }, null), 'vlinks[0].keying.auth', /auth: dns needs a dns section/);
  one(cfg({ keying: { mode: 'ikev2', auth: 'dns' } }), 'vlinks[0].keying.private_key', /required/);
  one(cfg({ keying: { mode: 'ikev2', auth: 'psk', psk_file: 'p', private_key: 'k' } }), 'vlinks[0].keying.private_key', /only used with auth: pubkey or dns/);
  const two = cfg({ peer: undefined, peer_domain: 'site-b.test', keying: dnsKeying });
  two.vlinks.push({ ...two.vlinks[0], name: 'vl1', address: '10.0.0.2/31' });
  one(two, 'vlinks[1].peer_domain', /already names site-b\.test/);
});
