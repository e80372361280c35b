// iiptran's IKEv2 against Debian's strongSwan charon (kernel-netlink, transport mode,
// dynamic[ipencap] selectors, PSK), both directions and two proposal sets. On this kernel
// charon cannot install its CHILD_SA (no ESP transform), so per ../shared/interop/strongswan.md:
//   - charon as responder answers IKE_AUTH with IDr, AUTH and NO_PROPOSAL_CHOSEN: the IKE SA
//     is ESTABLISHED on both sides, no CHILD_SA;
//   - charon as initiator gets our CHILD_SA and then deletes it in an INFORMATIONAL.
// In both cases charon logs the CHILD_SA keys before trying to install them, and they must
// equal what iiptran derived.

import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { uniquePrefix, netnsSkip } from './helpers.js';
import { assertKeysEqualCharon, CharonLab, type CharonCase } from './ike-charon-harness.js';

const skip = netnsSkip(['ip', 'unshare', 'mount', 'charon', 'swanctl']);


const CASES: (CharonCase & { suiteName: string })[] = [
  { initiator: 'iiptran', ike: 'aes256gcm16-prfsha256-x25519', esp: 'aes256gcm16', suiteName: 'ENCR_AES_GCM_16-256/-/PRF_HMAC_SHA2_256/CURVE_25519' },
  { initiator: 'iiptran', ike: 'aes128-sha256-ecp256', esp: 'aes128gcm16', suiteName: 'ENCR_AES_CBC-128/AUTH_HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/ECP_256' },
  { initiator: 'charon', ike: 'aes256gcm16-prfsha256-x25519', esp: 'aes256gcm16', suiteName: 'ENCR_AES_GCM_16-256/-/PRF_HMAC_SHA2_256/CURVE_25519' },
  { initiator: 'charon', ike: 'aes128-sha256-ecp256', esp: 'aes128gcm16', suiteName: 'ENCR_AES_CBC-128/AUTH_HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/ECP_256' },
];


describe('IKEv2 against strongSwan charon', { skip }, () => {
  CASES.forEach((c, i) => {
    describe(`${c.initiator} initiates: ${c.ike} / ${c.esp}`, () => {
      const lab = new CharonLab(uniquePrefix(`c${i}`), c, 40 + i);
      let ok = false;
      after(() => {
        lab.destroy();
        if (ok) lab.removeDir();
        else console.log(`# kept ${lab.dir} for inspection`);
      });

      test('IKE_SA ESTABLISHED on both sides, CHILD_SA keys equal charon\'s key log', async () => {
        await lab.up();
        const t0 = Date.now();
        if (c.initiator === 'charon') await lab.swanctl(['--initiate', '--ike', 'iip', '--child', 'vl', '--timeout', '10'], true);
        await lab.until(async () => (await lab.show('ike')).peers[0]?.state === 'ESTABLISHED', 15000, 'iiptran ESTABLISHED');
        const tookMs = Date.now() - t0;
        const sas = await lab.swanctl(['--list-sas']);
        assert.match(sas.stdout, /iip: #\d+, ESTABLISHED, IKEv2/, `charon's view:\n${sas.stdout}`);

        const view = (await lab.show('ike')).peers[0];
        const sa = view.sas.find((s: { state: string }) => s.state === 'ESTABLISHED');
        assert.equal(sa.role, c.initiator === 'iiptran' ? 'initiator' : 'responder');
        assert.equal([sa.ike.encr, sa.ike.integ ?? '-', sa.ike.prf, sa.ike.dh].join('/'), c.suiteName);
        // charon prints the SPIs it agreed on in --list-sas.
        assert.ok(sas.stdout.includes(sa.spiI) && sas.stdout.includes(sa.spiR), `SPIs ${sa.spiI}/${sa.spiR} in charon's list:\n${sas.stdout}`);

        await assertKeysEqualCharon(lab, sa, c);
        if (c.initiator === 'charon') {
          // strongswan.md: charon fails to install its CHILD_SA and deletes it with an INFORMATIONAL.
          await lab.until(() => /peer .* deleted the CHILD_SA/.test(lab.tail(lab.iiptranLog, 200)), 10000, 'charon deletes its failed CHILD_SA');
          const after = (await lab.show('ike')).peers[0];
          assert.equal(after.state, 'ESTABLISHED', 'the IKE SA survives the CHILD_SA delete');
          assert.equal(after.sas[0].children.length, 0);
          assert.equal((await lab.show('sas')).sas.length, 0, 'the deleted CHILD_SA left the data plane');
        } else {
          // strongswan.md: charon as responder refuses the CHILD_SA with NO_PROPOSAL_CHOSEN.
          assert.match(lab.tail(lab.iiptranLog, 200), /peer refused the CHILD_SA: NO_PROPOSAL_CHOSEN/);
        }
        const ms = /ESTABLISHED as \w+ in (\d+) ms/.exec(lab.tail(lab.iiptranLog, 400))?.[1];
        console.log(`# ${c.initiator} initiated ${c.ike}: IKE SA ESTABLISHED ${ms} ms after iiptran ${c.initiator === 'charon' ? 'received IKE_SA_INIT' : 'sent IKE_SA_INIT'} (test saw it after ${tookMs} ms)`);
        ok = true;
      });
    });
  });
});
