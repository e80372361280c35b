// Runs inside a throwaway namespace (spawned by tun.test.ts): drives a real TUN and prints one
// JSON line of observations for the parent to assert on. It never calls process.exit on the
// success path, so it only terminates if closing the device really releases the event loop.

import { execFileSync, spawn } from 'node:child_process';
import { openTun, TUN_SLOT_SIZE } from '../../src/io/tun.js';
import { loadNative, loadNativeTestOnly, READ_HEADROOM } from '../../src/native/index.js';

const IFNAME = 'iit0';
const LOCAL = '10.99.0.1';
const REMOTE = '10.99.0.2';
const facts: Record<string, unknown> = {};
const { ifSetMtu, ifSetUp } = loadNativeTestOnly();

function linkShow(): string {
  return execFileSync('ip', ['-o', 'link', 'show', 'dev', IFNAME], { encoding: 'utf8' });
}

function checksum(b: Buffer, start: number, end: number): number {
  let sum = 0;
  for (let i = start; i < end; i += 2) sum += (b[i]! << 8) + (i + 1 < end ? b[i + 1]! : 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function isEchoRequestToRemote(p: Buffer): boolean {
  if (p.length < 28 || p[0]! >> 4 !== 4 || p[9] !== 1) return false;
  const ihl = (p[0]! & 15) * 4;
  return p.subarray(16, 20).join('.') === REMOTE && p[ihl] === 8;
}

// Echo reply built from the request: swap addresses, type 0, fresh checksums.
function echoReply(req: Buffer): Buffer {
  const r = Buffer.from(req);
  const ihl = (r[0]! & 15) * 4;
  req.copy(r, 12, 16, 20);
  req.copy(r, 16, 12, 16);
  r[8] = 64;
  r.writeUInt16BE(0, 10);
  r.writeUInt16BE(checksum(r, 0, ihl), 10);
  r[ihl] = 0;
  r.writeUInt16BE(0, ihl + 2);
  r.writeUInt16BE(checksum(r, ihl, r.length), ihl + 2);
  return r;
}

function fail(e: unknown): never {
  console.log(JSON.stringify({ ...facts, error: String((e as Error)?.stack ?? e) }));
  process.exit(1);
}

try {
  const tun = openTun(IFNAME);
  facts.name = tun.name;
  facts.ifindex = tun.ifindex;

  ifSetMtu(IFNAME, 1400);
  facts.mtuRead = loadNative().ifGetMtu(IFNAME);
  facts.mtuShown = /\bmtu 1400\b/.test(linkShow());

  ifSetUp(IFNAME, true);
  execFileSync('ip', ['addr', 'add', `${LOCAL}/24`, 'dev', IFNAME]);

  tun.setCarrier(false);
  facts.noCarrierWhenOff = linkShow().includes('NO-CARRIER');
  tun.setCarrier(true);
  facts.noCarrierWhenOn = linkShow().includes('NO-CARRIER');

  let requests = 0;
  let batches = 0;
  // Every packet view must start READ_HEADROOM bytes into its slot of the reader's buffer.
  let headroomEveryPacket = true;
  tun.onPackets((pkts) => {
    batches++;
    for (const p of pkts) {
      const inSlot = p.byteOffset % (READ_HEADROOM + TUN_SLOT_SIZE);
      if (inSlot !== READ_HEADROOM || p.byteOffset + p.length > p.buffer.byteLength) headroomEveryPacket = false;
    }
    const replies = pkts.filter(isEchoRequestToRemote).map(echoReply);
    requests += replies.length;
    if (replies.length > 0) facts.replyWritten = tun.write(replies);
  });

  const ping = spawn('ping', ['-c', '1', '-W', '5', '-n', REMOTE], { stdio: ['ignore', 'pipe', 'pipe'] });
  let pingOut = '';
  ping.stdout.on('data', (d: Buffer) => (pingOut += d.toString()));
  ping.on('error', fail);
  ping.on('exit', (code) => {
    try {
      facts.pingExit = code;
      facts.pingReceived = /1 received/.test(pingOut);
      facts.requestsSeen = requests;
      facts.batches = batches;
      facts.headroomEveryPacket = batches > 0 && headroomEveryPacket;
      facts.readingBeforeClose = tun.reading;

      // Writing into an administratively down TUN fails with EIO: counted, not thrown.
      ifSetUp(IFNAME, false);
      facts.writeWhenDown = tun.write([echoReply(Buffer.alloc(28, 0).fill(0x45, 0, 1))]);
      facts.writeErrors = tun.errors.write;
      facts.lastErrno = tun.errors.lastErrno;

      tun.close();
      tun.close();
      facts.readingAfterClose = tun.reading;
      try {
        linkShow();
        facts.goneAfterClose = false;
      } catch {
        facts.goneAfterClose = true;
      }
      console.log(JSON.stringify(facts));
    } catch (e) {
      fail(e);
    }
  });
} catch (e) {
  fail(e);
}
