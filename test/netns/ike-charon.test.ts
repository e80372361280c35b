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
import { isRoot, uniquePrefix } from './helpers.js';
import { CharonLab, charonKeyDumps, haveCharon, type CharonCase } from './ike-charon-harness.js';
import { childKeymat, childSaKeys } from '../../src/control/ike/crypto/keys.js';
import type { PrfId } from '../../src/control/ike/crypto/prf.js';
import type { Suite } from '../../src/control/config-types.js';

const skip = !isRoot ? 'needs root (network namespaces)' : !haveCharon() ? 'strongSwan charon/swanctl not installed' : false;

const SUITE: Record<string, Suite> = { aes256gcm16: 'aes-gcm-256', aes128gcm16: 'aes-gcm-128', chacha20poly1305: 'chacha20-poly1305' };

const CASES: (CharonCase & { suiteName: string })[] = [
  { initiator: 'iiptran', ike: 'aes256gcm16-prfsha256-x25519', esp: 'aes256gcm16', suiteName: 'ENCR_AES_GCM_16-256/-/PRF_HMAC_SHA2_256/CURVE_25519' },
  { initiator: 'iiptran', ike: 'aes128-sha256-ecp256', esp: 'aes128gcm16', suiteName: 'ENCR_AES_CBC-128/AUTH_HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/ECP_256' },
  { initiator: 'charon', ike: 'aes256gcm16-prfsha256-x25519', esp: 'aes256gcm16', suiteName: 'ENCR_AES_GCM_16-256/-/PRF_HMAC_SHA2_256/CURVE_25519' },
  { initiator: 'charon', ike: 'aes128-sha256-ecp256', esp: 'aes128gcm16', suiteName: 'ENCR_AES_CBC-128/AUTH_HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/ECP_256' },
];

/** charon's labels for the IKE SA secrets, and the field of our key log that must match each. */
const IKE_SECRETS: [string, string][] = [
  ['SKEYSEED', 'skeyseed'], ['Sk_d secret', 'skD'], ['Sk_ei secret', 'skEi'], ['Sk_er secret', 'skEr'], ['Sk_pi secret', 'skPi'], ['Sk_pr secret', 'skPr'],
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

        // IKE SA secrets: ours (key log) against charon's (filelog ike = 4).
        await lab.until(() => charonKeyDumps(lab.charonLog).some(([l]) => l === 'encryption responder key'), 10000, 'charon CHILD_SA key dump');
        const dumps = charonKeyDumps(lab.charonLog);
        const ours = lab.keys();
        const ike = ours.find((r) => r['type'] === 'ike' && r['spiI'] === sa.spiI)!;
        assert.ok(ike, 'iiptran logged the IKE SA keys');
        for (const [label, field] of IKE_SECRETS) {
          const theirs = dumps.filter(([l]) => l === label).map(([, h]) => h);
          assert.ok(theirs.includes(ike[field]!), `${label}: iiptran ${ike[field]} not among charon's ${theirs.join(', ')}`);
        }

        // CHILD_SA keys: charon logs initiator->responder first, then responder->initiator.
        const encI = dumps.filter(([l]) => l === 'encryption initiator key').pop()![1];
        const encR = dumps.filter(([l]) => l === 'encryption responder key').pop()![1];
        if (c.initiator === 'charon') {
          // We accepted and installed the CHILD_SA: compare what went into our data plane.
          const child = ours.find((r) => r['type'] === 'child')!;
          assert.ok(child, 'iiptran installed (and logged) a CHILD_SA');
          assert.equal(child['suite'], SUITE[c.esp]);
          assert.equal(child['keyIn'], encI, 'our inbound = charon initiator -> us');
          assert.equal(child['keyOut'], encR, 'our outbound = us -> charon initiator');
          // strongswan.md: charon fails to install it and deletes it with an INFORMATIONAL.
          await lab.until(() => /peer .* deleted the CHILD_SA/.test(lab.tail(lab.iiptranLog, 200)), 10000, 'charon deletes its failed CHILD_SA');
          const after = (await lab.show('ike')).peers[0];
          assert.equal(after.state, 'ESTABLISHED', 'the IKE SA survives the CHILD_SA delete');
          assert.equal(after.sas[0].children.length, 0);
          assert.equal((await lab.show('sas')).sas.length, 0, 'the deleted CHILD_SA left the data plane');
        } else {
          // strongswan.md: charon as responder refuses the CHILD_SA with NO_PROPOSAL_CHOSEN after
          // logging its keys; we derive the same ones from our SK_d and nonces.
          assert.match(lab.tail(lab.iiptranLog, 200), /peer refused the CHILD_SA: NO_PROPOSAL_CHOSEN/);
          const k = childSaKeys(Number(ike['prf']) as PrfId, Buffer.from(ike['skD']!, 'hex'), SUITE[c.esp]!, Buffer.from(ike['ni']!, 'hex'), Buffer.from(ike['nr']!, 'hex'));
          assert.equal(childKeymat(k.initiatorToResponder).toString('hex'), encI);
          assert.equal(childKeymat(k.responderToInitiator).toString('hex'), encR);
        }
        const ms = /ESTABLISHED as \w+ in (\d+) ms/.exec(lab.tail(lab.iiptranLog, 400))?.[1];
        console.log(`# ${c.initiator} initiated ${c.ike}: IKE SA ESTABLISHED ${ms} ms after iiptran ${c.initiator === 'charon' ? 'received IKE_SA_INIT' : 'sent IKE_SA_INIT'} (test saw it after ${tookMs} ms)`);
        ok = true;
      });
    });
  });
});
