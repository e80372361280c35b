// 100k seeded mutations of the real DHCP packets captured from Kea (and of our client's own
// requests) through the codec, the relay (both sides) and the client state machine: nothing
// may throw, every input the relay refuses is counted under a reason, and whatever the codec
// accepts re-encodes to a fixpoint. IIPTRAN_FUZZ_SEED reproduces a run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ipv4ToU32 } from '../../src/wire/addr.js';
import { Dhcp, DhcpMalformed, MessageType, Opt, clientIdFromName, rfc3456Chaddr, withoutOption, type DhcpRepr } from '../../src/wire/dhcp/index.js';
import { buildClientMessage } from '../../src/dhcp/client-messages.js';
import { DhcpRelay } from '../../src/dhcp/relay.js';
import { DhcpClient } from '../../src/dhcp/client.js';
import { FakeClock } from '../../src/fake-clock.js';
import { SeededRandom } from '../helpers/seeded-random.js';
import { MemoryLeaseStore } from '../../src/dhcp/lease-store.js';
import { KEA_VECTORS } from '../wire/dhcp/kea-vectors.js';

const N = 100_000;
const SEED = Number(process.env.IIPTRAN_FUZZ_SEED ?? 0x5eed1234);
const HUB = ipv4ToU32('10.99.0.1');
const KEA = ipv4ToU32('10.99.0.2');
const vectors = KEA_VECTORS.map((v) => Buffer.from(v.hex.replace(/\s+/g, ''), 'hex'));
// The captured requests as the client sent them, before the relay: giaddr 0, hops 0, no option 82.
const requests = KEA_VECTORS.filter((v) => v.name.endsWith('_REQ')).map((v) => {
  const r = Dhcp.decode(Buffer.from(v.hex.replace(/\s+/g, ''), 'hex')) as DhcpRepr;
  return Dhcp.encode({ ...r, giaddr: 0, hops: 0, options: withoutOption(r.options, Opt.RELAY_AGENT_INFO) });
});
const replies = KEA_VECTORS.filter((v) => v.name.endsWith('_REPLY')).map((v) => Buffer.from(v.hex.replace(/\s+/g, ''), 'hex'));

/** One of several mutations, aimed at the options as often as at the header. */
function mutate(src: Buffer, rnd: SeededRandom): Buffer {
  const b = Buffer.from(src);
  const pick = (n: number) => Math.floor(rnd.unit() * n);
  const optAt = () => 240 + pick(Math.max(1, b.length - 240));
  switch (pick(9)) {
    case 0: for (let i = 1 + pick(4); i > 0; i--) b[pick(b.length)]! ^= 1 << pick(8); return b;
    case 1: return b.subarray(0, pick(b.length + 1));
    case 2: return Buffer.concat([b, Buffer.from(Array.from({ length: 1 + pick(300) }, () => pick(256)))]);
    case 3: b[optAt()] = pick(256); return b; // an option code or a length byte
    case 4: b[optAt()] = [0, 1, 52, 53, 54, 61, 82, 255][pick(8)]!; return b;
    case 5: { const i = b.indexOf(Buffer.from([53, 1]), 240); if (i > 0) b[i + 2] = pick(12); return b; }
    case 6: { const i = b.indexOf(Buffer.from([82]), 240); if (i > 0 && i + 3 < b.length) b[i + 1 + pick(3)] = pick(256); return b; }
    case 7: b[pick(240)] = pick(256); return b; // the fixed header: op, htype, hlen, hops, addresses
    default: { const i = optAt(); return Buffer.concat([b.subarray(0, i), Buffer.from([pick(256), pick(8)]), b.subarray(i)]); }
  }
}

test(`fuzz: ${N} mutated real DHCP packets through codec, relay and client, nothing throws`, () => {
  const rnd = new SeededRandom(SEED);
  const t0 = process.hrtime.bigint();
  let decoded = 0;
  const reasons = new Map<string, number>();
  // Relay, vlink side: a bucket so large the limiter never hides a path.
  const outV = { toServer: 0 };
  const relayV = new DhcpRelay({ relayAddr: HUB, servers: [KEA], rate: { burst: 1e12, perSecond: 1e12 }, clock: new FakeClock(Date.UTC(2026, 0, 1)),
    output: { toServer: () => outV.toServer++, toVlink: () => {}, route: () => {} } });
  // Relay, server side: the vlinks Kea's replies name, registered with their identities.
  const outS = { toVlink: 0, routes: 0 };
  const clockS = new FakeClock(Date.UTC(2026, 0, 1));
  const relayS = new DhcpRelay({ relayAddr: HUB, servers: [KEA], rate: { burst: 1e12, perSecond: 1e12 }, clock: clockS,
    output: { toServer: () => {}, toVlink: () => outS.toVlink++, route: () => outS.routes++ } });
  for (const [v, id] of [['vl-a', 'spoke-a.test'], ['vl-b', 'spoke-b.test'], ['vl-c', 'spoke-c.test']]) {
    relayS.fromVlink(v!, id!, buildClientMessage({ chaddr: rfc3456Chaddr(1, 1), clientId: clientIdFromName(id!) }, MessageType.DISCOVER, { xid: 1, secs: 0 }));
  }
  // Client: replies re-aimed at its current xid and chaddr, so mutations reach the state machine.
  const clockC = new FakeClock(Date.UTC(2026, 0, 1));
  let lastXid = 0;
  const client = new DhcpClient({ vlink: 'vl-hub', underlay: ipv4ToU32('10.200.1.2'), clientIdName: 'spoke-a.test', store: new MemoryLeaseStore(),
    clock: clockC, random: new SeededRandom(SEED ^ 0xabc), onEvent: () => {},
    transport: { send: (p) => { lastXid = (Dhcp.decode(p) as DhcpRepr).xid; } } });
  client.start();
  clockC.advance(2000);
  const aimed = replies.map((r) => Dhcp.decode(r) as DhcpRepr);
  let clientInputs = 0;

  for (let i = 0; i < N; i++) {
    const which = i % 3;
    if (which === 0) {
      const m = mutate(vectors[i % vectors.length]!, rnd);
      const r = Dhcp.decode(m);
      if (r instanceof DhcpMalformed) {
        reasons.set(r.error, (reasons.get(r.error) ?? 0) + 1);
      } else {
        decoded++;
        const again = Dhcp.encode(r);
        const r2 = Dhcp.decode(again);
        assert.ok(!(r2 instanceof DhcpMalformed), 're-encoded bytes decode');
        assert.deepEqual(Dhcp.encode(r2), again, 'encode/decode fixpoint');
      }
      relayV.fromVlink('vl-a', 'spoke-a.test', mutate(requests[i % requests.length]!, rnd));
    } else if (which === 1) {
      relayS.fromServer(mutate(replies[i % replies.length]!, rnd), KEA);
      if (i % 300 === 1) clockS.advance(20000); // let snooped leases expire now and then
    } else {
      const base = aimed[i % aimed.length]!;
      const target = Dhcp.encode({ ...base, xid: lastXid, chaddr: client.identity.chaddr,
        options: withoutOption(base.options, Opt.RELAY_AGENT_INFO).map((o) => (o.code === Opt.CLIENT_ID ? { code: o.code, data: client.identity.clientId } : o)) });
      client.receive(mutate(target, rnd));
      clientInputs++;
      if (i % 100 === 2) clockC.advance(3000);
    }
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
  const vIn = Math.ceil(N / 3);
  const sIn = Math.floor((N + 1) / 3);
  // Every vlink-side input was relayed or dropped under a reason (3 registration DISCOVERs went to relayS).
  assert.equal(outV.toServer + sum(relayV.drops), vIn);
  assert.equal(outS.toVlink + sum(relayS.drops), sIn);
  const accepted = clientInputs - sum(client.drops);
  console.log(`MEASURED dhcp fuzz: ${N} inputs in ${ms.toFixed(0)} ms (seed 0x${SEED.toString(16)}); codec decoded ${decoded}/${Math.ceil(N / 3)} mutations, refused ${JSON.stringify(Object.fromEntries(reasons))}`);
  console.log(`MEASURED dhcp fuzz relay (vlink side): relayed ${outV.toServer}/${vIn}, drops ${JSON.stringify(Object.fromEntries(relayV.drops))}`);
  console.log(`MEASURED dhcp fuzz relay (server side): delivered ${outS.toVlink}/${sIn}, route events ${outS.routes}, drops ${JSON.stringify(Object.fromEntries(relayS.drops))}`);
  console.log(`MEASURED dhcp fuzz client: ${clientInputs} replies, acted on ${accepted}, drops ${JSON.stringify(Object.fromEntries(client.drops))}, final state ${client.state}`);
  assert.ok(decoded > 1000 && outV.toServer > 1000 && outS.toVlink > 1000 && accepted > 100, 'mutations reach past the decoder everywhere');
});
