// A dual-stack vlink hands IPv6 packets to the node's DHCP hook too (receive.ts onLocal): they
// must never be taken for DHCPv4, even when their bytes happen to sit where an IPv4 header has
// protocol 17 and ports 67/68.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { udpPorts } from '../../src/dhcp/frame.js';

test('an IPv6 packet shaped like IPv4 UDP 68 -> 67 is not a DHCP candidate', () => {
  const p = Buffer.alloc(64);
  p[0] = 0x60;
  p[9] = 17; // inside the IPv6 source address
  p.writeUInt16BE(68, 20);
  p.writeUInt16BE(67, 22);
  assert.equal(udpPorts(p), null);
  // The same bytes with version 4 (and IHL 5) are.
  p[0] = 0x45;
  assert.deepEqual(udpPorts(p), { sport: 68, dport: 67 });
});
