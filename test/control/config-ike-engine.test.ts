// The node-wide IKE knobs of slice NAT/COOKIE: absent by default (the engine's defaults apply),
// range-checked with their path when present.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseNodeConfig } from '../../src/control/config.js';
import { ConfigError } from '../../src/errors.js';

const base = `node: x
underlay: { address: 10.0.0.1 }
vlinks:
  - name: vl-y
    peer: 10.0.0.2
    address: 10.1.0.0/31
    keying: { mode: manual, suite: aes-gcm-256, spi_in: 0x1000, spi_out: 0x1001, key_in: a, key_out: b }
`;

test('ike_cookie_threshold and ike_nat_keepalive_s: absent, set, 0, and out of range', () => {
  const none = parseNodeConfig(base, { baseDir: '/' });
  assert.equal(none.ikeCookieThreshold, undefined);
  assert.equal(none.ikeNatKeepaliveS, undefined);
  assert.ok(!('ikeCookieThreshold' in none), 'absent fields stay absent');
  const set = parseNodeConfig(base + 'ike_cookie_threshold: 0\nike_nat_keepalive_s: 15\n', { baseDir: '/' });
  assert.equal(set.ikeCookieThreshold, 0);
  assert.equal(set.ikeNatKeepaliveS, 15);
  assert.throws(() => parseNodeConfig(base + 'ike_cookie_threshold: -1\nike_nat_keepalive_s: 4000\n', { baseDir: '/' }), (e: unknown) => {
    const m = (e as ConfigError).message;
    return /ike_cookie_threshold: must be an integer 0\.\.1024/.test(m) && /ike_nat_keepalive_s: must be an integer 0\.\.3600/.test(m);
  });
});

test('ike_retry_max_s: absent, set, and out of range', () => {
  assert.equal(parseNodeConfig(base, { baseDir: '/' }).ikeRetryMaxS, undefined);
  assert.equal(parseNodeConfig(base + 'ike_retry_max_s: 2\n', { baseDir: '/' }).ikeRetryMaxS, 2);
  assert.throws(() => parseNodeConfig(base + 'ike_retry_max_s: 0\n', { baseDir: '/' }), /ike_retry_max_s: must be an integer 1\.\.3600/);
});
