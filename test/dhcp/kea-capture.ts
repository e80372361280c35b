// Re-captures the DHCP vectors in test/wire/dhcp/kea-vectors.ts from a real Kea 2.2 (root):
//
//   npm run build && node dist/test/dhcp/kea-capture.js > test/wire/dhcp/kea-vectors.ts
//
// Two namespaces joined by a veth: Kea at 10.99.0.2, the "hub" at 10.99.0.1. This file re-runs
// itself inside the hub namespace (--sender), binds 10.99.0.1:67 as a relay would, sends
// relayed requests built by our codec and records the bytes of Kea's replies.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import dgram from 'node:dgram';
import { fileURLToPath } from 'node:url';
import { addNs, delNsSync, nsExec, vethPair } from '../../src/lab/netns.js';
import { ipv4ToU32, u32ToIpv4 } from '../../src/wire/addr.js';
import {
  BOOTREQUEST, Dhcp, DhcpMalformed, HTYPE_IPSEC_TUNNEL, MessageType, Opt, RelaySub, clientIdFromName, encodeRelayAgentInfo,
  messageType, messageTypeName, rfc3456Chaddr, u32Data, u32Option, type DhcpOption, type DhcpRepr,
} from '../../src/wire/dhcp/index.js';
import { startKea } from './kea-harness.js';

const HUB = '10.99.0.1';
const KEA = '10.99.0.2';
const PRL = Buffer.from([1, 3, 6, 12, 51, 54, 58, 59]);

interface Vector { name: string; note: string; hex: string }

function relayInfo(vlink: string, identity: string): Buffer {
  return encodeRelayAgentInfo([
    { code: RelaySub.CIRCUIT_ID, data: Buffer.from(vlink) },
    { code: RelaySub.REMOTE_ID, data: Buffer.from(identity) },
  ]);
}

function request(o: { type: number; xid: number; underlay: string; octet: number; name: string; vlink: string; ciaddr?: string; extra?: DhcpOption[] }): Buffer {
  const options: DhcpOption[] = [
    { code: Opt.MESSAGE_TYPE, data: Buffer.from([o.type]) },
    { code: Opt.CLIENT_ID, data: clientIdFromName(o.name) },
    ...(o.extra ?? []),
    { code: Opt.PARAM_REQUEST_LIST, data: PRL },
    { code: Opt.RELAY_AGENT_INFO, data: relayInfo(o.vlink, o.name) },
  ];
  return Dhcp.encode({
    op: BOOTREQUEST, htype: HTYPE_IPSEC_TUNNEL, hops: 1, xid: o.xid, secs: 0, flags: 0,
    ciaddr: o.ciaddr === undefined ? 0 : ipv4ToU32(o.ciaddr), yiaddr: 0, siaddr: 0, giaddr: ipv4ToU32(HUB),
    chaddr: rfc3456Chaddr(ipv4ToU32(o.underlay), o.octet), options,
  });
}

async function sender(outFile: string): Promise<void> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(67, HUB, r));
  const inbox: Buffer[] = [];
  let wake: (() => void) | null = null;
  sock.on('message', (m) => { inbox.push(m); wake?.(); });
  const vectors: Vector[] = [];
  const exchange = async (name: string, note: string, req: Buffer, expectReply: boolean): Promise<Buffer | null> => {
    vectors.push({ name: `${name}_REQ`, note: `sent by the hub: ${note}`, hex: req.toString('hex') });
    sock.send(req, 67, KEA);
    const t0 = Date.now();
    while (inbox.length === 0 && Date.now() - t0 < (expectReply ? 3000 : 500)) {
      await new Promise<void>((r) => { wake = r; setTimeout(r, 100); });
    }
    const rep = inbox.shift() ?? null;
    if (expectReply && rep === null) throw new Error(`no reply from Kea to ${name}`);
    if (!expectReply && rep !== null) throw new Error(`unexpected reply to ${name}`);
    if (rep !== null) {
      const d = Dhcp.decode(rep);
      if (d instanceof DhcpMalformed) throw new Error(`${name}: Kea's reply does not decode: ${d.error} ${d.detail}`);
      vectors.push({ name: `${name}_REPLY`, note: `Kea's ${messageTypeName(messageType(d))} yiaddr ${u32ToIpv4(d.yiaddr)}`, hex: rep.toString('hex') });
      return rep;
    }
    return null;
  };
  const A = { underlay: '10.200.1.2', octet: 1, name: 'spoke-a.test', vlink: 'vl-a' };
  const offer = await exchange('DISCOVER_A', 'DISCOVER from spoke-a via vl-a', request({ ...A, type: MessageType.DISCOVER, xid: 0x1a2b3c01 }), true);
  const yi = Dhcp.decode(offer!) as DhcpRepr;
  const sid = u32Option(yi, Opt.SERVER_ID)!;
  await exchange('REQUEST_A', 'SELECTING REQUEST (50, 54 = hub)', request({
    ...A, type: MessageType.REQUEST, xid: 0x1a2b3c01,
    extra: [{ code: Opt.REQUESTED_IP, data: u32Data(yi.yiaddr) }, { code: Opt.SERVER_ID, data: u32Data(sid) }],
  }), true);
  await exchange('RENEW_A', 'RENEWING REQUEST relayed (ciaddr, giaddr, 82)', request({ ...A, type: MessageType.REQUEST, xid: 0x1a2b3c02, ciaddr: u32ToIpv4(yi.yiaddr) }), true);
  const B = { underlay: '10.200.2.2', octet: 7, name: 'spoke-b.test', vlink: 'vl-b' };
  const offerB = await exchange('DISCOVER_B', 'DISCOVER via vl-b (circuit-id reservation)', request({ ...B, type: MessageType.DISCOVER, xid: 0x1a2b3c03 }), true);
  const yb = (Dhcp.decode(offerB!) as { yiaddr: number }).yiaddr;
  const C = { underlay: '10.200.3.2', octet: 2, name: 'spoke-c.test', vlink: 'vl-c' };
  await exchange('NAK_C', 'vl-c asks for the reserved address of vl-b', request({
    ...C, type: MessageType.REQUEST, xid: 0x1a2b3c04,
    extra: [{ code: Opt.REQUESTED_IP, data: u32Data(yb) }, { code: Opt.SERVER_ID, data: u32Data(sid) }],
  }), true);
  await exchange('RELEASE_A', 'RELEASE of spoke-a (no reply)', request({
    ...A, type: MessageType.RELEASE, xid: 0x1a2b3c05, ciaddr: u32ToIpv4(yi.yiaddr), extra: [{ code: Opt.SERVER_ID, data: u32Data(sid) }],
  }), false);
  sock.close();
  fs.writeFileSync(outFile, JSON.stringify(vectors));
}

async function main(): Promise<void> {
  const tag = `iitkc${process.pid % 100000}`;
  const srv = `${tag}s`;
  const hub = `${tag}h`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iit-kea-capture-'));
  try {
    await addNs(srv);
    await addNs(hub);
    await vethPair(hub, `${tag}h0`, `${HUB}/24`, srv, `${tag}s0`, `${KEA}/24`);
    const kea = await startKea(srv, dir, {
      iface: `${tag}s0`, serverAddr: KEA, relayAddr: HUB, subnet: '10.10.0.0/16', pool: '10.10.5.10 - 10.10.5.200',
      reservations: [{ circuitId: 'vl-b', ip: '10.10.5.5', hostname: 'spoke-b' }], valid: 30, renew: 10, rebind: 20,
    });
    try {
      const out = path.join(dir, 'vectors.json');
      const r = await nsExec(hub, [process.execPath, fileURLToPath(import.meta.url), '--sender', out], { allowFail: true, timeoutMs: 30000 });
      if (r.code !== 0) throw new Error(`sender failed: ${r.stderr}\nKea log tail:\n${kea.log().split('\n').slice(-15).join('\n')}`);
      const vectors = JSON.parse(fs.readFileSync(out, 'utf8')) as Vector[];
      const hwtype = kea.log().includes('hwtype=31');
      process.stdout.write(render(vectors, hwtype, kea.leases().map((l) => `${l.address},${l.hwaddr},${l.clientId},${l.validLifetime},state ${l.state}`)));
    } finally {
      await kea.stop();
    }
  } finally {
    delNsSync(srv);
    delNsSync(hub);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function render(vectors: Vector[], hwtype: boolean, leases: string[]): string {
  const lines = [
    '// Generated by test/dhcp/kea-capture.ts against kea-dhcp4 2.2.0 (Debian 12) in a namespace;',
    '// do not edit by hand. Requests are what our codec sent as the relay (hub 10.99.0.1, Kea',
    '// 10.99.0.2); replies are Kea\'s bytes as received on 10.99.0.1:67.',
    `// Kea's log showed hwtype=31: ${hwtype}. Lease file afterwards (address,hwaddr,client_id,valid,state):`,
    ...leases.map((l) => `//   ${l}`),
    '',
    '/** hex: whitespace is not significant. */',
    'export interface KeaVector { name: string; note: string; hex: string }',
    '',
    'export const KEA_VECTORS: readonly KeaVector[] = [',
    ...vectors.map((v) => `  { name: '${v.name}', note: ${JSON.stringify(v.note)}, hex: \`\n${(v.hex.match(/.{1,96}/g) ?? []).map((c) => `    ${c}`).join('\n')}\n  \` },`),
    '];',
    '',
  ];
  return lines.join('\n');
}

if (process.argv[2] === '--sender') {
  await sender(process.argv[3]!);
} else if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await main();
}
