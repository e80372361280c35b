// metrics_listen end to end: two daemons keyed by IKEv2 over fakes, traffic and a CHILD_SA rekey,
// then a real HTTP scrape of one of them, parsed by the Prometheus project's own Python parser
// (Debian's python3-prometheus-client), and every value compared with the inspector's views.

import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { spawnSync } from 'node:child_process';
import pino from 'pino';
import { runDaemon } from '../../src/control/daemon.js';
import { controlCall } from '../../src/control/control-client.js';
import { parseNodeConfig } from '../../src/control/config.js';
import { ConfigErrors } from '../../src/control/yaml-doc.js';
import { MetricsWriter, escapeLabelValue } from '../../src/control/metrics-text.js';
import { DROP_REASONS } from '../../src/dataplane/drop-reasons.js';
import { FakeTun } from '../../src/io/fake-tun.js';
import { FakeUnderlay } from '../../src/io/fake-underlay.js';
import { Ipv4, IPPROTO_ICMP } from '../../src/wire/ipv4.js';
import { Icmp } from '../../src/wire/icmp.js';
import { ipv4ToU32 } from '../../src/wire/addr.js';
import { fakeNodeIo, ikeWire, pairYaml } from './fake-node-io.js';
import { isRoot } from '../netns/helpers.js';
import { until } from '../helpers/until.js';

const PY = '/usr/bin/python3';
const PARSER = `
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for f in text_string_to_metric_families(sys.stdin.read()):
    out.append({"name": f.name, "type": f.type, "help": f.documentation,
                "samples": [{"name": s.name, "labels": s.labels, "value": s.value} for s in f.samples]})
print(json.dumps(out))
`;

/** Skip only where a developer lacks the parser; as root or in CI a missing package fails. */
function parserSkip(): string | false {
  const r = spawnSync(PY, ['-c', 'import prometheus_client.parser'], { encoding: 'utf8' });
  if (r.status === 0) return false;
  const why = `${PY} cannot import prometheus_client: apt-get install python3-prometheus-client (scripts/setup.sh installs it)`;
  if (isRoot || process.env.CI === 'true') throw new Error(why);
  return why;
}
const skip = parserSkip();

interface Sample { name: string; labels: Record<string, string>; value: number }
interface Family { name: string; type: string; help: string; samples: Sample[] }

function parse(text: string): Family[] {
  const r = spawnSync(PY, ['-c', PARSER], { input: text, encoding: 'utf8' });
  assert.equal(r.status, 0, `the Prometheus parser refused the exposition: ${r.stderr}`);
  return JSON.parse(r.stdout) as Family[];
}

function get(port: number, p: string, method = 'GET'): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: p, method, agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => (body += String(d)));
      res.on('end', () => resolve({ status: res.statusCode!, type: String(res.headers['content-type']), body }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe('the text writer', () => {
  test('escapes label values and HELP; refuses names that break the conventions', () => {
    assert.equal(escapeLabelValue('a"b\\c\nd'), 'a\\"b\\\\c\\nd');
    const w = new MetricsWriter().declare('iiptran_x_total', 'counter', 'help with \\ and\nnewline');
    w.add('iiptran_x_total', { vlink: 'vl-"q"' }, 3);
    assert.equal(w.text(), '# HELP iiptran_x_total help with \\\\ and\\nnewline\n# TYPE iiptran_x_total counter\niiptran_x_total{vlink="vl-\\"q\\""} 3\n');
    assert.throws(() => new MetricsWriter().declare('iiptran_x', 'counter', 'h'), /only counters, end in _total/);
    assert.throws(() => new MetricsWriter().declare('iiptran_x_total', 'gauge', 'h'), /only counters, end in _total/);
    assert.throws(() => new MetricsWriter().declare('x_total', 'counter', 'h'), /naming rules/);
    assert.throws(() => new MetricsWriter().add('iiptran_y', {}, 1), /not declared/);
    assert.throws(() => new MetricsWriter().declare('iiptran_y', 'gauge', 'h').add('iiptran_y', { 'bad-label': 'v' }, 1), /bad label name/);
    if (skip === false) {
      const fams = parse(w.add('iiptran_x_total', { vlink: 'a\\b\nc' }, 1).text());
      assert.deepEqual(fams[0]!.samples.map((s) => s.labels['vlink']), ['vl-"q"', 'a\\b\nc'], 'the parser reads back what was escaped');
    }
  });
});

describe('metrics_listen in the config', () => {
  const base = (extra: string) => `node: a\n${extra}underlay: { address: 192.0.2.1 }\nvlinks:\n  - { name: vl-b, peer: 192.0.2.2, address: 10.255.0.0/31, keying: { mode: ikev2, psk_file: psk } }\n`;
  test('absent: no endpoint; ADDRESS:PORT parsed; anything else names the field', () => {
    assert.equal(parseNodeConfig(base(''), { baseDir: '/tmp' }).metricsListen, undefined);
    assert.deepEqual(parseNodeConfig(base('metrics_listen: 127.0.0.1:9477\n'), { baseDir: '/tmp' }).metricsListen, { host: '127.0.0.1', port: 9477 });
    for (const bad of ['127.0.0.1', ':9477', '127.0.0.1:0', '127.0.0.1:70000', 'localhost:9477', '[::1]:9477', '9477', '010.0.0.1:9477']) {
      assert.throws(() => parseNodeConfig(base(`metrics_listen: "${bad}"\n`), { baseDir: '/tmp' }), (e: ConfigErrors) => {
        assert.equal(e.code, 'IIPTRAN_ERR_CONFIG');
        assert.match(e.message, /metrics_listen: must be IPV4:PORT with a port 1\.\.65535, e\.g\. 127\.0\.0\.1:9477/);
        return true;
      });
    }
  });
});

describe('a scrape of a running daemon', { skip }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iit-metrics-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('parses, has every family and reason, and agrees with the inspector', async () => {
    const port = await freePort();
    const psk = path.join(dir, 'psk');
    fs.writeFileSync(psk, 'a shared secret of some length\n', { mode: 0o600 });
    const keying = `      mode: ikev2\n      psk_file: ${psk}\n      esp_proposals: [aes256gcm16]`;
    const cfgA = path.join(dir, 'a.yaml');
    const cfgB = path.join(dir, 'b.yaml');
    const writeA = (listen: string) => fs.writeFileSync(cfgA, `metrics_listen: ${listen}\n${pairYaml(dir, 'a', keying)}`);
    writeA(`127.0.0.1:${port}`);
    fs.writeFileSync(cfgB, pairYaml(dir, 'b', keying));
    const [ua, ub] = FakeUnderlay.pair('192.0.2.1', 4500, '192.0.2.2', 4500, 'udp', { poison: false });
    const tuns = new Map<string, FakeTun>();
    const wire = ikeWire();
    const log = pino({ level: 'silent' });
    const hb = await runDaemon(cfgB, fakeNodeIo(ub, tuns, { openIkeUdp: wire.open }), log);
    const ha = await runDaemon(cfgA, fakeNodeIo(ua, tuns, { openIkeUdp: wire.open }), log);
    try {
      await until('IKE SAs', () => ha.node.vlinks.get('vl-b')!.policy.sa !== null && hb.node.vlinks.get('vl-a')!.policy.sa !== null);
      const echo = Ipv4.encode({ src: ipv4ToU32('10.10.0.1'), dst: ipv4ToU32('10.10.0.2'), protocol: IPPROTO_ICMP, ttl: 64, dontFragment: true,
        payload: Icmp.encode({ kind: 'echo-request', identifier: 1, sequence: 1, data: Buffer.alloc(100, 7) }) } as never);
      tuns.get('vl-b')!.inject([echo, echo, echo]);
      // A packet no policy covers on the far side: one counted drop to find in the scrape.
      tuns.get('vl-b')!.inject([Buffer.from([0x50, 0, 0, 0])]);
      await until('3 packets delivered', () => tuns.get('vl-a')!.written.length === 3);
      assert.equal(ha.node.ike!.rekeyNow('vl-b', 'child'), null);
      await until('a CHILD_SA rekey on both ends', () => (ha.node.ike!.stats.rekeys['vl-b']?.child ?? 0) === 1 && (hb.node.ike!.stats.rekeys['vl-a']?.child ?? 0) === 1);

      const r = await get(port, '/metrics');
      assert.equal(r.status, 200);
      assert.equal(r.type, 'text/plain; version=0.0.4; charset=utf-8');
      const fams = parse(r.body);
      const byName = new Map(fams.map((f) => [f.name, f]));
      const samples = (fam: string, match: Record<string, string> = {}) =>
        byName.get(fam)!.samples.filter((s) => Object.entries(match).every(([k, v]) => s.labels[k] === v));
      const value = (fam: string, match: Record<string, string>) => {
        const s = samples(fam, match);
        assert.equal(s.length, 1, `one ${fam} sample for ${JSON.stringify(match)}, got ${s.length}`);
        return s[0]!.value;
      };

      // Families and types, as the parser sees them (it names a counter family without _total).
      for (const f of fams) {
        assert.match(f.name, /^iiptran_/);
        assert.ok(f.help.length > 10, `${f.name} has help`);
        for (const s of f.samples) assert.ok(s.name === f.name || s.name === `${f.name}_total`, `${s.name} under ${f.name}`);
        if (f.type === 'counter') assert.ok(f.samples.every((s) => s.name.endsWith('_total')), `${f.name}: counter samples end in _total`);
      }
      assert.equal(byName.get('iiptran_vlink_rx_bytes')?.type, 'counter');
      assert.equal(byName.get('iiptran_vlink_up')?.type, 'gauge');

      const counters = ((await controlCall(path.join(dir, 'a.sock'), 'show', { what: 'counters' })) as { vlinks: Record<string, Record<string, number>> }).vlinks['vl-b']!;
      assert.equal(value('iiptran_vlink_tx_packets', { vlink: 'vl-b' }), 3);
      assert.equal(value('iiptran_vlink_tx_bytes', { vlink: 'vl-b' }), counters['txBytes']);
      assert.equal(value('iiptran_vlink_up', { vlink: 'vl-b' }), 1);
      assert.deepEqual(samples('iiptran_vlink_drops', { vlink: 'vl-b' }).map((s) => s.labels['reason']).sort(), [...DROP_REASONS].sort(), 'every drop reason, zero or not');
      assert.equal(value('iiptran_vlink_drops', { vlink: 'vl-b', reason: 'not-ip' }), 1);
      for (const reason of DROP_REASONS) assert.equal(value('iiptran_vlink_drops', { vlink: 'vl-b', reason }), counters[reason]);

      // The SAs in use after the rekey: one out, and in (the old inbound one may linger 2 s).
      const sas = ((await controlCall(path.join(dir, 'a.sock'), 'show', { what: 'sas' })) as { sas: { dir: string; spi: string; packets: number; bytes: number }[] }).sas;
      for (const sa of sas) {
        const l = { vlink: 'vl-b', dir: sa.dir, spi: sa.spi };
        assert.equal(value('iiptran_sa_packets', l), sa.packets);
        assert.equal(value('iiptran_sa_bytes', l), sa.bytes);
        assert.ok(value('iiptran_sa_age_seconds', l) >= 0);
        assert.equal(samples('iiptran_sa_packets', l)[0]!.labels['keying'], 'ikev2');
      }
      assert.equal(samples('iiptran_sa_packets').length, sas.length);

      assert.equal(value('iiptran_ike_peer_state', { vlink: 'vl-b', state: 'ESTABLISHED' }), 1);
      assert.equal(samples('iiptran_ike_peer_state', { vlink: 'vl-b' }).reduce((n, s) => n + s.value, 0), 1, 'exactly one state is 1');
      assert.equal(value('iiptran_ike_rekeys', { vlink: 'vl-b', kind: 'child' }), 1);
      assert.equal(value('iiptran_ike_rekeys', { vlink: 'vl-b', kind: 'ike' }), 0);
      assert.ok(value('iiptran_ike_messages_sent', {}) >= 3);
      assert.ok(samples('iiptran_ike_sa_age_seconds', { vlink: 'vl-b', state: 'ESTABLISHED' }).length >= 1);
      assert.deepEqual(samples('iiptran_dns_peer_verdict'), [], 'no named peers here');
      assert.equal(value('iiptran_guard_configured', {}), 0);

      // HEAD, other paths and methods.
      const head = await get(port, '/metrics', 'HEAD');
      assert.deepEqual([head.status, head.body], [200, '']);
      assert.equal((await get(port, '/nope')).status, 404);
      assert.equal((await get(port, '/metrics', 'POST')).status, 405);

      // Like control_socket, the listener cannot move on reload.
      writeA(`127.0.0.1:${port + 1}`);
      await assert.rejects(controlCall(path.join(dir, 'a.sock'), 'reload'), /metrics_listen: cannot change on reload/);
    } finally {
      await ha.stop();
      await hb.stop();
    }
    await assert.rejects(get(port, '/metrics'), /ECONNREFUSED/, 'a stopped daemon closes the endpoint');
  });

  test('a port already taken stops the start with the field named, and leaves no socket behind', async () => {
    const s = net.createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const port = (s.address() as net.AddressInfo).port;
    const file = path.join(dir, 'c.yaml');
    const keyDir = fs.mkdtempSync(path.join(dir, 'c-'));
    fs.writeFileSync(path.join(keyDir, 'psk'), 'another shared secret of length\n', { mode: 0o600 });
    fs.writeFileSync(file, `metrics_listen: 127.0.0.1:${port}\n${pairYaml(keyDir, 'a', `      mode: ikev2\n      psk_file: ${keyDir}/psk`)}`);
    const [u] = FakeUnderlay.pair('192.0.2.1', 4500, '192.0.2.2', 4500, 'udp', { poison: false });
    try {
      await assert.rejects(runDaemon(file, fakeNodeIo(u, new Map(), { openIkeUdp: ikeWire().open }), pino({ level: 'silent' })),
        (e: Error & { code?: string }) => e.code === 'IIPTRAN_ERR_CONFIG' && /metrics_listen: cannot listen on 127\.0\.0\.1:\d+: EADDRINUSE/.test(e.message));
      assert.equal(fs.existsSync(path.join(keyDir, 'a.sock')), false);
    } finally {
      await new Promise((r) => s.close(r));
    }
  });
});
