// child_mode tunnel-any against strongSwan charon with kernel-libipsec (strongswan.md variant 2),
// each side initiating once: a tunnel-mode CHILD_SA with 0.0.0.0/0 selectors and, because libipsec only
// does UDP encapsulation, forces it (`encap = yes`: faked NAT detection, IKE moves to 4500). Its
// ESP then is exactly an IIPtran packet (UDP 4500, ESP, next header 4, inner IPv4), so real VN
// traffic flows between the vlink and charon's TUN, ipsec0:
//
//   iiptran ns: vl-c 10.77.0.1/32 peer 10.77.0.2   <== ESP-in-UDP 4500 ==>   charon ns: ipsec0 10.77.0.2
//
// Then charon rekeys the CHILD_SA (`swanctl --rekey --child`) in the middle of a ping stream,
// and the stream must not lose a packet.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { uniquePrefix, netnsSkip } from './helpers.js';
import { CharonLab, type CharonCase } from './ike-charon-harness.js';
import { nsExec, parsePing } from '../../src/lab/netns.js';

const skip = netnsSkip(['ip', 'unshare', 'mount', 'charon', 'swanctl', 'ping']);

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const VN_I = '10.77.0.1';
const VN_C = '10.77.0.2';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function charonCase(initiator: 'charon' | 'iiptran'): CharonCase {
  return {
    initiator,
    libipsec: true,
    ike: 'aes256gcm16-prfsha256-x25519',
    esp: 'aes256gcm16',
    swanctlConf: (lab) => `connections {
  iip {
    version = 2
    mobike = no
    fragmentation = no
    encap = yes
    local_addrs = ${lab.addrC}
    remote_addrs = ${lab.addrI}
    proposals = aes256gcm16-prfsha256-x25519
    local { auth = psk
      id = ${lab.addrC} }
    remote { auth = psk
      id = ${lab.addrI} }
    children {
      vl { mode = tunnel
        local_ts = 0.0.0.0/0
        remote_ts = 0.0.0.0/0
        esp_proposals = aes256gcm16 }
    }
  }
}
secrets {
  ike-iip { id-a = ${lab.addrC}
    id-b = ${lab.addrI}
    secret = 0x${lab.psk} }
}
`,
    iiptranVlink: (lab) => [
      'encap: udp',
      `address: ${VN_I}/32`,
      `peer_address: ${VN_C}`,
      // charon sends no liveness probes: with liveness on, the carrier would drop after dead_ms of silence.
      'liveness: off',
      'keying:',
      '  mode: ikev2',
      `  psk_file: ${lab.dir}/psk`,
      `  role: ${initiator === 'iiptran' ? 'initiator' : 'responder'}`,
      '  child_mode: tunnel-any',
      '  ike_proposals: [aes256gcm16-prfsha256-x25519]',
      '  esp_proposals: [aes256gcm16]',
    ],
  };
}

/** charon's installed CHILD_SA SPIs (in, out) from `swanctl --list-sas`, or null. */
function charonChild(listSas: string): { inSpi: string; outSpi: string } | null {
  const m = /vl: #\d+, reqid \d+, INSTALLED, TUNNEL-in-UDP[^\n]*\n(?:[^\n]*\n)*?\s+installed[^\n]*\n\s+in\s+([0-9a-f]{8})[^\n]*\n\s+out\s+([0-9a-f]{8})/.exec(listSas);
  return m === null ? null : { inSpi: m[1]!, outSpi: m[2]! };
}

for (const initiator of ['charon', 'iiptran'] as const) describe(`tunnel-any vlink against charon with kernel-libipsec (UDP-encapsulated tunnel mode), ${initiator} initiates`, { skip }, () => {
  const lab = new CharonLab(uniquePrefix(`ct${initiator[0]}`), charonCase(initiator), initiator === 'charon' ? 90 : 91);
  let ok = 0;
  let setupMs = 0;
  before(async () => {
    const t0 = Date.now();
    await lab.up();
    if (initiator === 'charon') await lab.swanctl(['--initiate', '--ike', 'iip', '--child', 'vl', '--timeout', '15'], true);
    await lab.until(async () => (await lab.show('ike')).peers[0]?.sas.some((s: Obj) => s.state === 'ESTABLISHED' && s.children.length > 0), 15000, 'iiptran ESTABLISHED with a CHILD_SA');
    await lab.until(async () => charonChild((await lab.swanctl(['--list-sas'], true)).stdout) !== null, 10000, 'charon INSTALLED its CHILD_SA');
    // kernel-libipsec made ipsec0; with install_routes = no the VN side is ours to configure.
    await lab.until(async () => (await nsExec(lab.nsC, ['ip', 'link', 'show', 'ipsec0'], { allowFail: true })).code === 0, 5000, 'ipsec0 exists');
    await nsExec(lab.nsC, ['ip', 'addr', 'add', `${VN_C}/32`, 'dev', 'ipsec0']);
    await nsExec(lab.nsC, ['ip', 'link', 'set', 'ipsec0', 'up']);
    await nsExec(lab.nsC, ['ip', 'route', 'add', `${VN_I}/32`, 'dev', 'ipsec0', 'src', VN_C]);
    setupMs = Date.now() - t0;
  });
  after(() => {
    lab.destroy();
    if (ok === 3 && process.env['IIPTRAN_KEEP_LAB'] === undefined) lab.removeDir();
    else console.log(`# kept ${lab.dir} for inspection`);
  });

  test('negotiated as tunnel mode, 0.0.0.0/0, UDP-encapsulated on 4500 both ways', async () => {
    const sas = (await lab.swanctl(['--list-sas'])).stdout;
    assert.match(sas, /iip: #\d+, ESTABLISHED, IKEv2/, sas);
    // charon: TUNNEL-in-UDP, its IKE on 4500 (encap = yes faked a NAT), selectors 0/0 both sides.
    assert.match(sas, /vl: #\d+, reqid \d+, INSTALLED, TUNNEL-in-UDP, ESP:AES_GCM_16-256/, sas);
    assert.match(sas, /local\s+0\.0\.0\.0\/0\s*\n\s+remote\s+0\.0\.0\.0\/0/, sas);
    assert.match(sas, new RegExp(`remote '${lab.addrI.replace(/\./g, '\\.')}' @ ${lab.addrI.replace(/\./g, '\\.')}\\[4500\\]`), sas);
    const sa = (await lab.show('ike')).peers[0].sas.find((s: Obj) => s.state === 'ESTABLISHED');
    assert.equal(sa.children[0].mode, 'tunnel-any');
    assert.equal(sa.localPort, 4500, 'IKE followed charon to 4500');
    const c = charonChild(sas)!;
    // Our inbound SPI is charon's outbound, and vice versa.
    assert.equal(sa.children[0].spiIn, `0x${c.outSpi}`);
    assert.equal(sa.children[0].spiOut, `0x${c.inSpi}`);
    console.log(`# ${initiator} initiated: tunnel-any CHILD_SA with charon/libipsec up ${setupMs} ms after the lab started (namespaces, daemons, IKE, ipsec0)`);
    ok++;
  });

  test('VN ping both ways between the vlink and charon\'s ipsec0', async () => {
    const fromI = parsePing((await nsExec(lab.nsI, ['ping', '-c', '5', '-i', '0.2', '-W', '2', '-I', VN_I, VN_C], { allowFail: true })).stdout);
    const fromC = parsePing((await nsExec(lab.nsC, ['ping', '-c', '5', '-i', '0.2', '-W', '2', '-I', VN_C, VN_I], { allowFail: true })).stdout);
    assert.equal(fromI.received, 5, `iiptran -> charon\n${lab.tail(lab.charonLog, 30)}`);
    assert.equal(fromC.received, 5, 'charon -> iiptran');
    const link = (await lab.show('links')).links[0];
    assert.equal(link.drops['bad-next-header'] ?? 0, 0, 'charon\'s tunnel-mode ESP has next header 4, like ours');
    assert.ok(link.rxPackets >= 10 && link.txPackets >= 10, `rx ${link.rxPackets} tx ${link.txPackets}`);
    console.log(`# ${initiator} initiated: VN ping over the tunnel-any CHILD_SA: iiptran->charon avg ${fromI.avgMs} ms, charon->iiptran avg ${fromC.avgMs} ms`);
    ok++;
  });

  test('charon rekeys the CHILD_SA during a ping stream: no ping lost, new SPIs on both sides', async () => {
    const before = charonChild((await lab.swanctl(['--list-sas'])).stdout)!;
    const count = 50;
    const ping = spawn('ip', ['netns', 'exec', lab.nsI, 'ping', '-c', String(count), '-i', '0.1', '-W', '2', '-I', VN_I, VN_C]);
    let out = '';
    ping.stdout.on('data', (b: Buffer) => { out += b.toString(); });
    const done = new Promise<void>((r) => ping.on('close', () => r()));
    await sleep(1500);
    const t0 = Date.now();
    const rk = await lab.swanctl(['--rekey', '--child', 'vl'], true);
    assert.equal(rk.code, 0, `swanctl --rekey: ${rk.stderr}`);
    await lab.until(async () => {
      const c = charonChild((await lab.swanctl(['--list-sas'], true)).stdout);
      return c !== null && c.inSpi !== before.inSpi;
    }, 10000, 'charon lists a new CHILD_SA');
    const rekeyMs = Date.now() - t0;
    await done;
    const r = parsePing(out);
    const after = charonChild((await lab.swanctl(['--list-sas'])).stdout)!;
    const sa = (await lab.show('ike')).peers[0].sas.find((s: Obj) => s.state === 'ESTABLISHED');
    assert.equal(sa.children.length, 1, 'the old CHILD_SA is gone once charon deleted it');
    assert.equal(sa.children[0].spiIn, `0x${after.outSpi}`);
    assert.equal(sa.children[0].spiOut, `0x${after.inSpi}`);
    assert.notEqual(after.outSpi, before.outSpi);
    console.log(`# ${initiator} initiated: charon CHILD_SA rekey under a ${count}-ping stream at 10/s: ${r.received}/${r.sent} answered, new SA listed ${rekeyMs} ms after swanctl --rekey`);
    assert.equal(r.sent, count);
    assert.equal(r.received, count, `lost ${r.sent - r.received} pings across the rekey\n${lab.tail(lab.iiptranLog, 40)}`);
    ok++;
  });
});
