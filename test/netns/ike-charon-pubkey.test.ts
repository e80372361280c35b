// Raw public key authentication (RFC 7670) against Debian's strongSwan charon (`auth = pubkey`,
// `pubkeys = <PEM SubjectPublicKeyInfo>`), both directions, Ed25519 and ECDSA P-256, plus a
// wrong key on either side. charon runs with kernel-netlink, so as in ike-charon.test.ts only the
// IKE SA can be established (strongswan.md variant 1); that is what authentication needs.
// strongSwan 5.9.8 neither sends nor parses CERT encoding 15 ("embedding PUBKEY certificate in
// payload failed", "certificate encoding (15) not supported"): it ignores ours and uses its
// configured key, and we verify it against peer_public_key. Our CERT path is covered between two
// iiptran engines (engine-pubkey.test.ts) and two daemons (ike-pair-pubkey.test.ts).

import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { uniquePrefix, netnsSkip } from './helpers.js';
import { assertKeysEqualCharon, CharonLab, type CharonCase } from './ike-charon-harness.js';
import { loadPeerPublicKey, writeAuthKeyPair } from '../../src/control/credentials.js';
import type { AuthKeyType } from '../../src/ike/crypto/auth.js';

const skip = netnsSkip(['ip', 'unshare', 'mount', 'charon', 'swanctl']);

interface PubkeyCase {
  initiator: 'iiptran' | 'charon';
  type: AuthKeyType;
  /** charon without RFC 7427 (no SIGNATURE_HASH_ALGORITHMS): ECDSA goes by method 9 both ways. */
  noRfc7427?: boolean;
  /** Which side is configured with a stranger's key for its peer. */
  wrong?: 'iiptran' | 'charon';
}

const CASES: PubkeyCase[] = [
  { initiator: 'iiptran', type: 'ed25519' },
  { initiator: 'charon', type: 'ed25519' },
  { initiator: 'iiptran', type: 'ecdsa-p256' },
  { initiator: 'charon', type: 'ecdsa-p256' },
  { initiator: 'iiptran', type: 'ecdsa-p256', noRfc7427: true },
  { initiator: 'charon', type: 'ecdsa-p256', noRfc7427: true },
  { initiator: 'iiptran', type: 'ed25519', wrong: 'charon' },
  { initiator: 'charon', type: 'ecdsa-p256', wrong: 'iiptran' },
  { initiator: 'charon', type: 'ed25519', wrong: 'iiptran' },
];

const sha = (der: Buffer) => createHash('sha256').update(der).digest('hex');

function labFor(c: PubkeyCase, i: number): CharonLab {
  const kdir = (lab: CharonLab) => path.join(lab.dir, 'keys');
  const cc: CharonCase = {
    initiator: c.initiator,
    // Two proposal sets, as for PSK: Ed25519 with AES-GCM/X25519, P-256 with AES-CBC/ECP-256.
    ike: c.type === 'ed25519' ? 'aes256gcm16-prfsha256-x25519' : 'aes128-sha256-ecp256',
    esp: c.type === 'ed25519' ? 'aes256gcm16' : 'aes128gcm16',
    ...(c.noRfc7427 === true ? { charonConf: '  signature_authentication = no' } : {}),
    swanctlConf: (lab) => `connections {
  iip {
    version = 2
    mobike = no
    fragmentation = no
    local_addrs = ${lab.addrC}
    remote_addrs = ${lab.addrI}
    proposals = ${cc.ike}
    local { auth = pubkey
      pubkeys = ${kdir(lab)}/charon.key.pub
      id = ${lab.addrC} }
    remote { auth = pubkey
      pubkeys = ${kdir(lab)}/${c.wrong === 'charon' ? 'stranger' : 'iip'}.key.pub
      id = ${lab.addrI} }
    children {
      vl { mode = transport
        local_ts = dynamic[ipencap]
        remote_ts = dynamic[ipencap]
        esp_proposals = ${cc.esp} }
    }
  }
}
`,
    iiptranVlink: (lab) => [
      'address: 10.255.9.0/31',
      'liveness: off',
      'keying:',
      '  mode: ikev2',
      '  auth: pubkey',
      `  private_key: ${kdir(lab)}/iip.key`,
      `  peer_public_key: ${kdir(lab)}/${c.wrong === 'iiptran' ? 'stranger' : 'charon'}.key.pub`,
      `  role: ${c.initiator === 'iiptran' ? 'initiator' : 'responder'}`,
      `  ike_proposals: [${cc.ike}]`,
      `  esp_proposals: [${cc.esp}]`,
    ],
  };
  const lab = new CharonLab(uniquePrefix(`cp${i}`), cc, 60 + i);
  fs.mkdirSync(kdir(lab), { mode: 0o700 });
  for (const who of ['iip', 'charon', 'stranger']) writeAuthKeyPair(path.join(kdir(lab), `${who}.key`), c.type);
  // swanctl loads private keys only from the pkcs8/ (private/, ecdsa/) folder beside swanctl.conf;
  // `secrets { private... }` only holds passphrases for them.
  fs.mkdirSync(path.join(lab.charonDir, 'pkcs8'), { recursive: true, mode: 0o700 });
  fs.copyFileSync(path.join(kdir(lab), 'charon.key'), path.join(lab.charonDir, 'pkcs8', 'charon.key'));
  return lab;
}

describe('raw public keys against strongSwan charon', { skip }, () => {
  CASES.forEach((c, i) => {
    const name = `${c.initiator} initiates, ${c.type}${c.noRfc7427 === true ? ' (charon without RFC 7427)' : ''}${c.wrong === undefined ? '' : `, ${c.wrong} has the wrong key for its peer`}`;
    describe(name, () => {
      const lab = labFor(c, i);
      let ok = false;
      after(() => {
        lab.destroy();
        if (ok) lab.removeDir();
        else console.log(`# kept ${lab.dir} for inspection`);
      });

      test(c.wrong === undefined ? 'IKE_SA ESTABLISHED on both sides; each verified the other\'s key; CHILD_SA keys equal charon\'s key log' : 'AUTHENTICATION_FAILED, on both sides', async () => {
        await lab.up();
        const t0 = Date.now();
        if (c.initiator === 'charon') await lab.swanctl(['--initiate', '--ike', 'iip', '--child', 'vl', '--timeout', '10'], true);
        const keys = path.join(lab.dir, 'keys');
        if (c.wrong === undefined) {
          await lab.until(async () => (await lab.show('ike')).peers[0]?.state === 'ESTABLISHED', 15000, 'iiptran ESTABLISHED');
          const sas = await lab.swanctl(['--list-sas']);
          assert.match(sas.stdout, /iip: #\d+, ESTABLISHED, IKEv2/, `charon's view:\n${sas.stdout}`);
          const sa = (await lab.show('ike')).peers[0].sas.find((s: { state: string }) => s.state === 'ESTABLISHED');
          const charonSpki = loadPeerPublicKey(path.join(keys, 'charon.key.pub'));
          assert.equal(sa.peerPublicKey.sha256, sha(charonSpki), 'show ike exposes the key charon authenticated with');
          assert.equal(sa.peerPublicKey.spki, charonSpki.toString('base64'));
          assert.equal(sa.peerPublicKey.type, c.type);
          assert.equal(sa.peerPublicKey.authMethod, c.noRfc7427 === true ? 9 : 14, 'charon signs with 9 only when RFC 7427 is off');
          const log = lab.tail(lab.charonLog, 400);
          // charon verified our signature with the configured raw key.
          assert.match(log, new RegExp(`authentication of '${lab.addrI.replace(/\./g, '\\.')}' with [^\\n]* successful`), log);
          await assertKeysEqualCharon(lab, sa, lab.c);
          console.log(`# ${name}: ESTABLISHED after ${Date.now() - t0} ms; charon signed with method ${sa.peerPublicKey.authMethod}, CERT ${sa.peerPublicKey.source}`);
        } else {
          await lab.until(async () => {
            const p = (await lab.show('ike')).peers[0];
            return p?.lastError !== null && p?.lastError !== undefined;
          }, 15000, 'iiptran reports the failure');
          const err = (await lab.show('ike')).peers[0].lastError as string;
          await lab.until(() => /signature validation failed|received AUTHENTICATION_FAILED|AUTH_FAILED/.test(lab.tail(lab.charonLog, 400)), 10000, 'charon logs the failure');
          const clog = lab.tail(lab.charonLog, 400);
          if (c.wrong === 'charon') {
            // charon (responder) refuses our key; we are told so.
            assert.match(err, /peer says AUTHENTICATION_FAILED/);
          } else {
            // We (responder) refuse charon's key and answer AUTHENTICATION_FAILED; charon logs it.
            // charon sends no CERT, so the configured key is what its signature fails against.
            assert.match(err, /does not verify with peer_public_key SHA-256 [0-9a-f]{16}… .*answered AUTHENTICATION_FAILED/);
            assert.match(clog, /received AUTHENTICATION_FAILED notify error/);
          }
          const sas = await lab.swanctl(['--list-sas']);
          assert.doesNotMatch(sas.stdout, /ESTABLISHED/, `charon's view:\n${sas.stdout}`);
          assert.equal((await lab.show('sas')).sas.length, 0);
          console.log(`# ${name}: refused after ${Date.now() - t0} ms: ${err}`);
        }
        ok = true;
      });
    });
  });
});
