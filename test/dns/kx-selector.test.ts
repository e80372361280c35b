// The exchanger selector on a fake clock: the most preferred usable exchanger first, failover to
// the next when it fails, back to it when its retry time comes and it answers, with a backoff
// that doubles per failure in a row; and the inspector's view of it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../src/fake-clock.js';
import { ExchangerSelector } from '../../src/dns/kx-selector.js';
import type { Exchanger, KxList } from '../../src/dns/kx.js';

const x = (preference: number, name: string, addr: string | null, reason: string | null = null): Exchanger =>
  ({ preference, name, addresses: addr ? [addr] : [], verdict: addr ? 'secure' : 'insecure', usable: addr !== null, reason });

function list(clock: FakeClock, exchangers: Exchanger[], ok = true): KxList {
  const now = clock.now();
  return { domain: 'site-a.test.', verdict: 'secure', ok, reason: ok ? null : 'KX of site-a.test. is bogus', exchangers, ttl: 300, fetchedAtMs: now, expiresAtMs: now + 300_000 };
}

const A = x(10, 'gw1.site-a.test.', '192.0.2.1');
const B = x(20, 'gw2.site-a.test.', '192.0.2.2');
const C = x(30, 'gw3.site-a.test.', null, 'address of gw3.site-a.test. is insecure');

test('the most preferred usable exchanger is picked; failover to the next; back when the first returns', () => {
  const clock = new FakeClock();
  const s = new ExchangerSelector(clock);
  assert.equal(s.pick(), null, 'nothing before a list');
  s.update(list(clock, [A, B, C]));
  assert.equal(s.pick()?.name, A.name);
  assert.equal(s.better(A.name), null);
  assert.equal(s.view(A.name).why, 'most preferred exchanger (preference 10)');

  s.failed(A.name, 'IKE timeout');
  assert.equal(s.pick()?.name, B.name, 'failover');
  assert.equal(s.better(B.name), null, 'A is down for its backoff');
  const v = s.view(B.name);
  assert.equal(v.why, 'preference 20 because gw1.site-a.test. (10) is down (IKE timeout), retry in 10 s');
  assert.deepEqual(v.exchangers.map((e) => [e.name, e.inUse, e.down, e.retryInSec]), [[A.name, false, true, 10], [B.name, true, false, null], [C.name, false, false, null]]);
  assert.equal(s.nextRetryAtMs(), clock.now() + 10_000);

  clock.advance(10_000);
  assert.equal(s.better(B.name)?.name, A.name, 'due for a retry: the node tries it while B carries traffic');
  assert.match(s.view(B.name).why, /gw1\.site-a\.test\. \(10\) is being tried again/);
  s.failed(A.name, 'IKE timeout');
  assert.equal(s.better(B.name), null);
  clock.advance(19_999);
  assert.equal(s.better(B.name), null, 'second failure in a row: 20 s');
  clock.advance(1);
  assert.equal(s.better(B.name)?.name, A.name);
  s.succeeded(A.name);
  assert.equal(s.pick()?.name, A.name, 'back on the preferred exchanger');
  assert.equal(s.better(A.name), null);
  assert.equal(s.nextRetryAtMs(), null);
});

test('backoff doubles up to its ceiling; all down gives none, with the reasons; the unusable one is never offered', () => {
  const clock = new FakeClock();
  const s = new ExchangerSelector(clock, { backoffMs: 1000, maxBackoffMs: 4000 });
  s.update(list(clock, [A, B, C]));
  const waits: number[] = [];
  for (let i = 0; i < 5; i++) {
    s.failed(A.name, 'DPD');
    waits.push(s.nextRetryAtMs()! - clock.now());
    clock.advance(waits.at(-1)!);
  }
  assert.deepEqual(waits, [1000, 2000, 4000, 4000, 4000]);
  s.failed(A.name, 'DPD');
  s.failed(B.name, 'IKE timeout');
  assert.equal(s.pick(), null);
  assert.equal(s.view(null).why, 'none in use; gw1.site-a.test. (10): down (DPD), retry in 4 s; gw2.site-a.test. (20): down (IKE timeout), retry in 1 s; gw3.site-a.test. (30): address of gw3.site-a.test. is insecure');
  clock.advance(1000);
  assert.equal(s.pick()?.name, B.name);
});

test('a new list keeps the history of exchangers still in it; one that left is replaced; a list that is not ok offers none', () => {
  const clock = new FakeClock();
  const s = new ExchangerSelector(clock);
  s.update(list(clock, [A, B]));
  s.failed(A.name, 'IKE timeout');
  s.update(list(clock, [A, B]));
  assert.equal(s.pick()?.name, B.name, 'A still down after a re-read');
  s.update(list(clock, [B, C]));
  s.update(list(clock, [A, B]));
  assert.equal(s.pick()?.name, A.name, 'A left the records and came back: a fresh start');
  s.update(list(clock, [B]));
  assert.equal(s.better(A.name)?.name, B.name, 'A is no longer an exchanger: move');
  assert.equal(s.view(A.name).why, 'gw1.site-a.test. is no longer an exchanger of site-a.test.');
  s.update(list(clock, [A, B], false));
  assert.equal(s.pick(), null);
  assert.equal(s.better(B.name), null);
  assert.equal(s.view(B.name).why, 'KX of site-a.test. is bogus');
  assert.deepEqual([s.view(null).ok, s.view(null).refreshInSec], [false, 300]);
});
