// An IKE_SA_INIT flood for the COOKIE test, run inside a test namespace:
//   node dist/test/netns/ike-flood.js DST COUNT SOCKETS
// Each request is well-formed and acceptable (a real proposal, a real X25519 value, a fresh
// SPI and nonce), so a responder without DoS protection would run a DH and keep a half-open SA
// for every one. They leave from SOCKETS different source ports. Prints one JSON line:
// {sent, answers, cookies, sas} counted from whatever the responder sends back.

import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { encodePlain } from '../../src/ike/protect.js';
import { ikeOffer } from '../../src/ike/negotiate.js';
import { parseIkeProposals } from '../../src/ike/proposals.js';
import { generate } from '../../src/ike/crypto/dh.js';
import { newIkeSpi } from '../../src/ike/ike-sa.js';
import { ExchangeType, IkeMessageCodec, NotifyType, PayloadType } from '../../src/wire/ike/index.js';

const [dst, countArg, socketsArg] = process.argv.slice(2);
const count = Number(countArg ?? 2000);
const sockets = Number(socketsArg ?? 100);
const offer = ikeOffer(parseIkeProposals(['aes256gcm16-prfsha256-x25519']));
const ke = generate(31).publicValue;

let answers = 0;
let cookies = 0;
let sas = 0;
const socks: dgram.Socket[] = [];
for (let i = 0; i < sockets; i++) {
  const s = dgram.createSocket('udp4');
  s.on('message', (msg) => {
    answers++;
    const m = IkeMessageCodec.decode(msg);
    if (!m.ok) return;
    if (m.payloads.some((p) => p.type === PayloadType.NOTIFY && p.notifyType === NotifyType.COOKIE)) cookies++;
    else if (m.header.spiR !== 0n) sas++;
  });
  s.bind(0);
  socks.push(s);
}
await Promise.all(socks.map((s) => new Promise((r) => s.once('listening', r))));
for (let i = 0; i < count; i++) {
  const msg = encodePlain({ spiI: newIkeSpi(), spiR: 0n, exchangeType: ExchangeType.IKE_SA_INIT, initiator: true, response: false, messageId: 0 }, [
    offer, { type: PayloadType.KE, group: 31, data: ke }, { type: PayloadType.NONCE, data: randomBytes(32) },
  ]);
  await new Promise<void>((r) => socks[i % sockets]!.send(msg, 500, dst!, () => r()));
  // Bursts of 20: fast enough to be a flood for the responder's logic, slow enough that the
  // kernel's socket buffer does not throw most of it away before the daemon sees it.
  if (i % 20 === 19) await new Promise((r) => setTimeout(r, 1));
}
await new Promise((r) => setTimeout(r, 1000));
for (const s of socks) s.close();
process.stdout.write(JSON.stringify({ sent: count, sockets, answers, cookies, sas }) + '\n');
