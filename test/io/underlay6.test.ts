// The IPv6 underlay sockets of the addon (src/native/sock6.c) through io/raw-esp.ts and
// io/udp-underlay.ts, in a throwaway namespace: raw ESP over IPv6 arrives without an IP header
// (RFC 3542 §3), UDP over IPv6 with its port; both report the 16-byte source and the traffic
// class each datagram was sent with (IPV6_TCLASS out, IPV6_RECVTCLASS in).

import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { createNetns, deleteNetns, runInNetns } from './netns.js';
import { netnsSkip } from '../netns/helpers.js';

describe('IPv6 underlay sockets in a namespace', { skip: netnsSkip(['ip']) }, () => {
  const namespaces: string[] = [];
  after(() => namespaces.forEach(deleteNetns));

  it('raw ESP and UDP over IPv6: contents, 16-byte sources, ports and traffic classes intact', async () => {
    const ns = createNetns('io-u6');
    namespaces.push(ns);
    const r = await runInNetns(ns, 'esp6-child.js', []);
    const f = r.json;
    assert.ok(f, `child printed no JSON (exit ${r.code}): ${r.stdout}\n${r.stderr}`);
    assert.equal(f.error, undefined, String(f.error));
    const tos = Array.from({ length: 10 }, (_, i) => (i % 2 === 1 ? 0xba : 0));
    assert.equal(f.espLocal, 'fd00:6::1');
    assert.equal(f.espAccepted, 10);
    assert.equal(f.espReceived, 10);
    assert.equal(f.espMatch, true, 'data starts at the ESP header: no IPv6 header in front');
    assert.deepEqual(f.espAddrs, ['fd00:6::2']);
    assert.deepEqual(f.espPorts, [0]);
    assert.deepEqual(f.espTos, tos, 'the traffic class of each datagram, from IPV6_TCLASS');
    assert.equal(f.espV4Refused, true);
    assert.equal((f.espTxErrors as { write: number }).write, 1, 'the IPv4 destination counted as a write error');
    assert.deepEqual(f.udpLocal, ['fd00:6::1', true]);
    assert.equal(f.udpAccepted, 10);
    assert.equal(f.udpReceived, 10);
    assert.equal(f.udpMatch, true);
    assert.deepEqual(f.udpAddrs, ['fd00:6::2']);
    assert.deepEqual(f.udpPorts, [f.udpFromPort]);
    assert.deepEqual(f.udpTos, tos);
  });
});
