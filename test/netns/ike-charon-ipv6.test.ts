// IKEv2 over an IPv6 underlay against strongSwan charon (issue #10): the same transport-mode PSK
// setup as ike-charon.test.ts (kernel-netlink, dynamic[ipencap]), with both daemons on IPv6
// addresses, so the identities are ID_IPV6_ADDR and the traffic selectors TS_IPV6_ADDR_RANGE
// with protocol 4. charon checks both: an identity or selector it did not expect would fail
// IKE_AUTH or narrow to nothing. Each direction: ESTABLISHED on both sides, SPIs agreed, and
// every IKE and CHILD_SA key equal to charon's key log.

import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { uniquePrefix, netnsSkip } from './helpers.js';
import { assertKeysEqualCharon, CharonLab, type CharonCase } from './ike-charon-harness.js';
import { nsExec, parsePing } from '../../src/lab/netns.js';

const skip = netnsSkip(['ip', 'unshare', 'mount', 'charon', 'swanctl', 'ping']);

const CASES: CharonCase[] = [
  { initiator: 'iiptran', ike: 'aes256gcm16-prfsha256-x25519', esp: 'aes256gcm16', ipv6: true },
  { initiator: 'charon', ike: 'aes128-sha256-ecp256', esp: 'aes128gcm16', ipv6: true },
];

describe('IKEv2 over IPv6 against strongSwan charon', { skip }, () => {
  CASES.forEach((c, i) => {
    describe(`${c.initiator} initiates over IPv6: ${c.ike} / ${c.esp}`, () => {
      const lab = new CharonLab(uniquePrefix(`c6${i}`), c, 60 + i);
      let ok = false;
      after(() => {
        lab.destroy();
        if (ok) lab.removeDir();
        else console.log(`# kept ${lab.dir} for inspection`);
      });

      test('IKE_SA ESTABLISHED on both sides with IPv6 identities, keys equal charon\'s key log', async () => {
        await lab.up();
        if (c.initiator === 'charon') await lab.swanctl(['--initiate', '--ike', 'iip', '--child', 'vl', '--timeout', '10'], true);
        await lab.until(async () => (await lab.show('ike')).peers[0]?.state === 'ESTABLISHED', 15000, 'iiptran ESTABLISHED');
        const sas = await lab.swanctl(['--list-sas']);
        assert.match(sas.stdout, /iip: #\d+, ESTABLISHED, IKEv2/, `charon's view:\n${sas.stdout}`);
        // charon names both ends by their IPv6 addresses and identities.
        assert.ok(sas.stdout.includes(`'${lab.addrC}' @ ${lab.addrC}[500]`), sas.stdout);
        assert.ok(sas.stdout.includes(`'${lab.addrI}' @ ${lab.addrI}[500]`), sas.stdout);
        const view = (await lab.show('ike')).peers[0];
        const sa = view.sas.find((s: { state: string }) => s.state === 'ESTABLISHED');
        assert.deepEqual([sa.localId, sa.remoteId, sa.peer], [lab.addrI, lab.addrC, lab.addrC]);
        assert.ok(sas.stdout.includes(sa.spiI) && sas.stdout.includes(sa.spiR), `SPIs ${sa.spiI}/${sa.spiR} in charon's list:\n${sas.stdout}`);
        await assertKeysEqualCharon(lab, sa, c);
        // charon saw our selectors as TS_IPV6_ADDR_RANGE with protocol 4 (its log prints them).
        assert.match(lab.tail(lab.charonLog, 400), new RegExp(`${lab.addrI.replace(/:/g, ':')}/128\\[ipencap\\]`), 'charon logged our IPv6 transport selector');
        if (c.initiator === 'charon') {
          await lab.until(() => /peer .* deleted the CHILD_SA/.test(lab.tail(lab.iiptranLog, 200)), 10000, 'charon deletes its failed CHILD_SA');
        } else {
          assert.match(lab.tail(lab.iiptranLog, 200), /peer refused the CHILD_SA: NO_PROPOSAL_CHOSEN/);
        }
        console.log(`# charon --list-sas over IPv6:\n${sas.stdout.split('\n').map((l) => `#   ${l}`).join('\n')}`);
        ok = true;
      });
    });
  });
});

// Data-path interop over IPv6: charon with kernel-libipsec (strongswan.md variant 2: tunnel mode,
// 0.0.0.0/0, UDP encapsulation forced) over the IPv6 underlay. Its ESP is then IPv4 inside
// ESP-in-UDP over IPv6, exactly what a vlink sends: VN pings cross both ways.
const VN_I = '10.78.0.1';
const VN_C = '10.78.0.2';

describe('tunnel-any vlink against charon/kernel-libipsec over an IPv6 underlay', { skip }, () => {
  const c: CharonCase = {
    initiator: 'iiptran', libipsec: true, ipv6: true, ike: 'aes256gcm16-prfsha256-x25519', esp: 'aes256gcm16',
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
      'encap: udp', `address: ${VN_I}/32`, `peer_address: ${VN_C}`, 'liveness: off', 'keying:', '  mode: ikev2',
      `  psk_file: ${lab.dir}/psk`, '  role: initiator', '  child_mode: tunnel-any',
      '  ike_proposals: [aes256gcm16-prfsha256-x25519]', '  esp_proposals: [aes256gcm16]',
    ],
  };
  const lab = new CharonLab(uniquePrefix('c6t'), c, 62);
  let ok = false;
  after(() => {
    lab.destroy();
    if (ok) lab.removeDir();
    else console.log(`# kept ${lab.dir} for inspection`);
  });

  test('CHILD_SA TUNNEL-in-UDP over IPv6 on both sides; VN ping both ways through charon\'s ipsec0', async () => {
    await lab.up();
    await lab.until(async () => (await lab.show('ike')).peers[0]?.sas.some((s: { state: string; children: unknown[] }) => s.state === 'ESTABLISHED' && s.children.length > 0), 15000, 'iiptran ESTABLISHED with a CHILD_SA');
    await lab.until(async () => /vl: #\d+, reqid \d+, INSTALLED, TUNNEL-in-UDP/.test((await lab.swanctl(['--list-sas'], true)).stdout), 10000, 'charon INSTALLED its CHILD_SA');
    const sas = (await lab.swanctl(['--list-sas'])).stdout;
    assert.ok(sas.includes(`'${lab.addrI}' @ ${lab.addrI}[4500]`), `IKE on 4500 over IPv6:\n${sas}`);
    await lab.until(async () => (await nsExec(lab.nsC, ['ip', 'link', 'show', 'ipsec0'], { allowFail: true })).code === 0, 5000, 'ipsec0 exists');
    await nsExec(lab.nsC, ['ip', 'addr', 'add', `${VN_C}/32`, 'dev', 'ipsec0']);
    await nsExec(lab.nsC, ['ip', 'link', 'set', 'ipsec0', 'up']);
    await nsExec(lab.nsC, ['ip', 'route', 'add', `${VN_I}/32`, 'dev', 'ipsec0', 'src', VN_C]);
    const fromI = parsePing((await nsExec(lab.nsI, ['ping', '-c', '5', '-i', '0.2', '-W', '2', '-I', VN_I, VN_C], { allowFail: true })).stdout);
    const fromC = parsePing((await nsExec(lab.nsC, ['ping', '-c', '5', '-i', '0.2', '-W', '2', '-I', VN_C, VN_I], { allowFail: true })).stdout);
    assert.equal(fromI.received, 5, `iiptran -> charon\n${lab.tail(lab.charonLog, 30)}`);
    assert.equal(fromC.received, 5, 'charon -> iiptran');
    const link = (await lab.show('links')).links[0];
    assert.equal(link.outer.dst, lab.addrC);
    assert.ok(link.rxPackets >= 10 && link.txPackets >= 10, `rx ${link.rxPackets} tx ${link.txPackets}`);
    console.log(`# VN ping over IPv6 with charon/libipsec: iiptran->charon avg ${fromI.avgMs} ms, charon->iiptran avg ${fromC.avgMs} ms`);
    ok = true;
  });
});
