// Runs inside a throwaway namespace (spawned by raw-esp.test.ts): one raw ESP socket sends to
// another over loopback and the receiver reports what it got as one JSON line.

import { execFileSync } from 'node:child_process';
import { openRawEsp } from '../../src/io/raw-esp.js';
import type { Datagram } from '../../src/io/types.js';
import { addrFromString as addrOf, formatAddr } from '../../src/wire/addr.js';

const COUNT = 10;
const facts: Record<string, unknown> = {};

function payload(i: number): Buffer {
  // SPI, sequence number, then filler: shaped like ESP, contents irrelevant to the socket.
  const b = Buffer.alloc(16 + i * 100, i);
  b.writeUInt32BE(0x1000 + i, 0);
  b.writeUInt32BE(i + 1, 4);
  return b;
}

try {
  execFileSync('ip', ['link', 'set', 'lo', 'up']);
  const rx = openRawEsp('127.0.0.1');
  const tx = openRawEsp('127.0.0.2');
  const got: Datagram[] = [];
  const txGot: Datagram[] = [];
  tx.onDatagrams((ds) => {
    for (const d of ds) txGot.push({ ...d, data: Buffer.from(d.data) });
  });
  const timer = setTimeout(finish, 3000);
  rx.onDatagrams((ds) => {
    for (const d of ds) got.push({ ...d, data: Buffer.from(d.data) });
    if (got.length >= COUNT) {
      clearTimeout(timer);
      // Give a stray duplicate or the sender's own echo a moment to show up.
      setTimeout(finish, 100);
    }
  });
  const dgrams: Datagram[] = [];
  for (let i = 0; i < COUNT; i++) dgrams.push({ data: payload(i), addr: addrOf('127.0.0.1'), port: 4500 });
  facts.accepted = tx.send(dgrams);

  function finish(): void {
    facts.received = got.length;
    facts.addrs = [...new Set(got.map((d) => formatAddr(d.addr)))];
    facts.ports = [...new Set(got.map((d) => d.port))];
    facts.contentsMatch = got.length === COUNT && got.every((d, i) => d.data.equals(payload(i)));
    facts.senderReceived = txGot.length;
    facts.rxErrors = rx.errors;
    facts.localAddr = rx.localAddr;
    rx.close();
    rx.close();
    tx.close();
    console.log(JSON.stringify(facts));
  }
} catch (e) {
  console.log(JSON.stringify({ ...facts, error: String((e as Error)?.stack ?? e) }));
  process.exit(1);
}
