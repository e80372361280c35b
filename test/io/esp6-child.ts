// Runs inside a throwaway namespace (spawned by underlay6.test.ts): IPv6 underlay sockets over
// loopback. Raw ESP (next header 50) and UDP each send ten datagrams from one socket to another,
// half of them with a traffic class; the receivers report what they got as one JSON line.

import { execFileSync } from 'node:child_process';
import { openRawEsp } from '../../src/io/raw-esp.js';
import { openUdpUnderlay } from '../../src/io/udp-underlay.js';
import type { Datagram, UnderlaySocket } from '../../src/io/types.js';
import { addrFromString as addrOf, formatAddr } from '../../src/wire/addr.js';

const COUNT = 10;
const facts: Record<string, unknown> = {};

function payload(i: number): Buffer {
  const b = Buffer.alloc(16 + i * 100, i);
  b.writeUInt32BE(0x1000 + i, 0);
  b.writeUInt32BE(i + 1, 4);
  return b;
}

function exchange(tag: string, rx: UnderlaySocket, tx: UnderlaySocket, to: string, port: number): Promise<void> {
  return new Promise((resolve) => {
    const got: Datagram[] = [];
    const finish = () => {
      facts[`${tag}Received`] = got.length;
      facts[`${tag}Addrs`] = [...new Set(got.map((d) => formatAddr(d.addr)))];
      facts[`${tag}Ports`] = [...new Set(got.map((d) => d.port))];
      facts[`${tag}Match`] = got.length === COUNT && got.every((d, i) => d.data.equals(payload(i)));
      facts[`${tag}Tos`] = got.map((d) => d.tos ?? null);
      resolve();
    };
    const timer = setTimeout(finish, 3000);
    rx.onDatagrams((ds) => {
      for (const d of ds) got.push({ ...d, data: Buffer.from(d.data) });
      if (got.length >= COUNT) {
        clearTimeout(timer);
        setTimeout(finish, 100);
      }
    });
    const out: Datagram[] = [];
    // Odd datagrams carry DSCP EF with ECT(0): the traffic class a copied inner header would give.
    for (let i = 0; i < COUNT; i++) out.push({ data: payload(i), addr: addrOf(to), port, tos: i % 2 === 1 ? 0xba : 0 });
    facts[`${tag}Accepted`] = tx.send(out);
    // An IPv4 destination on an IPv6 socket is refused and counted, never sent.
    facts[`${tag}V4Refused`] = tx.send([{ data: payload(0), addr: addrOf('127.0.0.1'), port }]) === 0;
  });
}

try {
  execFileSync('ip', ['link', 'set', 'lo', 'up']);
  execFileSync('ip', ['-6', 'addr', 'add', 'fd00:6::1/128', 'dev', 'lo', 'nodad']);
  execFileSync('ip', ['-6', 'addr', 'add', 'fd00:6::2/128', 'dev', 'lo', 'nodad']);
  const rx = openRawEsp('fd00:6::1');
  const tx = openRawEsp('fd00:6::2');
  facts.espLocal = rx.localAddr;
  await exchange('esp', rx, tx, 'fd00:6::1', 0);
  facts.espTxErrors = tx.errors;
  rx.close();
  tx.close();
  const u1 = openUdpUnderlay('fd00:6::1', 0);
  const u2 = openUdpUnderlay('fd00:6::2', 0);
  facts.udpLocal = [u1.localAddr, u1.localPort > 0];
  facts.udpFromPort = u2.localPort;
  await exchange('udp', u1, u2, 'fd00:6::1', u1.localPort);
  u1.close();
  u2.close();
  console.log(JSON.stringify(facts));
} catch (e) {
  console.log(JSON.stringify({ ...facts, error: String((e as Error)?.stack ?? e) }));
  process.exit(1);
}
