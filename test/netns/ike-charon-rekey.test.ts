// IKE SA rekeying (RFC 7296 §1.3.2, §2.18) against Debian's strongSwan charon, both ways:
//   - charon rekeys (`swanctl --rekey --ike`): iiptran answers the CREATE_CHILD_SA, moves to the
//     new IKE SA, and charon's Delete of the old one closes it;
//   - iiptran rekeys when its ike_lifetime_s (10 s) runs out, and charon accepts it.
// Either way the new SA's SPIs are the ones charon lists, its keys (SKEYSEED from the old SK_d)
// equal the keys in charon's key log, and (charon case) a second rekey runs over the new SA.

import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { uniquePrefix, netnsSkip } from './helpers.js';
import { CharonLab, charonKeyDumps, type CharonCase } from './ike-charon-harness.js';

const skip = netnsSkip(['ip', 'unshare', 'mount', 'charon', 'swanctl']);

const IKE_SECRETS: [string, string][] = [
  ['SKEYSEED', 'skeyseed'], ['Sk_d secret', 'skD'], ['Sk_ei secret', 'skEi'], ['Sk_er secret', 'skEr'], ['Sk_pi secret', 'skPi'], ['Sk_pr secret', 'skPr'],
];

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function psk(lab: CharonLab): string {
  const f = `${lab.dir}/psk`;
  if (!fs.existsSync(f)) fs.writeFileSync(f, `0x${lab.psk}\n`, { mode: 0o600 });
  return f;
}

const CASES: (CharonCase & { name: string })[] = [
  { name: 'charon rekeys the IKE SA (swanctl --rekey --ike)', initiator: 'charon', ike: 'aes256gcm16-prfsha256-x25519', esp: 'aes256gcm16' },
  {
    name: 'iiptran rekeys the IKE SA (ike_lifetime_s 10)', initiator: 'iiptran', ike: 'aes128-sha256-ecp256', esp: 'aes128gcm16',
    iiptranVlink: (lab) => [
      'address: 10.255.9.0/31', 'liveness: off', 'keying:', '  mode: ikev2', `  psk_file: ${psk(lab)}`, '  role: initiator',
      '  ike_proposals: [aes128-sha256-ecp256]', '  esp_proposals: [aes128gcm16]', '  ike_lifetime_s: 10',
    ],
  },
];

describe('IKE SA rekey against strongSwan charon', { skip }, () => {
  CASES.forEach((c, i) => {
    describe(c.name, () => {
      const lab = new CharonLab(uniquePrefix(`cr${i}`), c, 70 + i);
      let ok = false;
      after(() => {
        lab.destroy();
        if (ok) lab.removeDir();
        else console.log(`# kept ${lab.dir} for inspection`);
      });

      test('new IKE SA on both sides, old one deleted, keys equal charon\'s key log', async () => {
        await lab.up();
        if (c.initiator === 'charon') await lab.swanctl(['--initiate', '--ike', 'iip', '--child', 'vl', '--timeout', '10'], true);
        const current = async (): Promise<Obj | undefined> => (await lab.show('ike')).peers[0]?.sas.find((s: Obj) => s.state === 'ESTABLISHED');
        await lab.until(async () => (await current()) !== undefined, 15000, 'iiptran ESTABLISHED');
        const first = (await current())!;
        const t0 = Date.now();
        if (c.initiator === 'charon') await lab.swanctl(['--rekey', '--ike', 'iip']);
        await lab.until(async () => {
          const v = (await lab.show('ike')).peers[0];
          return v.sas.length === 1 && v.sas[0].state === 'ESTABLISHED' && v.sas[0].spiI !== first.spiI;
        }, 20000, 'iiptran on a new IKE SA, the old one gone');
        const ms = Date.now() - t0;
        const now = (await current())!;
        assert.notEqual(now.spiR, first.spiR);
        // The rekey's initiator is the new SA's initiator.
        assert.equal(now.role, c.initiator === 'iiptran' ? 'initiator' : 'responder');
        const list = await lab.swanctl(['--list-sas']);
        assert.ok(list.stdout.includes(now.spiI) && list.stdout.includes(now.spiR), `charon lists ${now.spiI}/${now.spiR}:\n${list.stdout}`);
        assert.ok(!list.stdout.includes(first.spiI), `charon deleted the old SA:\n${list.stdout}`);

        const dumps = charonKeyDumps(lab.charonLog);
        const ours = lab.keys().find((r) => r['type'] === 'ike' && r['spiI'] === now.spiI);
        assert.ok(ours, 'iiptran logged the new IKE SA keys');
        assert.ok(ours['rekeyOf'], 'marked as a rekey');
        for (const [label, field] of IKE_SECRETS) {
          const theirs = dumps.filter(([l]) => l === label).map(([, h]) => h);
          assert.ok(theirs.includes(ours[field]!), `${label}: iiptran ${ours[field]} not among charon's ${theirs.join(', ')}`);
        }
        if (c.initiator === 'charon') {
          // The new SA works (message IDs from 0, its keys): charon rekeys again over it.
          await lab.swanctl(['--rekey', '--ike', 'iip']);
          await lab.until(async () => {
            const v = (await lab.show('ike')).peers[0];
            return v.sas.length === 1 && v.sas[0].state === 'ESTABLISHED' && v.sas[0].spiI !== now.spiI;
          }, 20000, 'a second rekey over the new IKE SA');
        }
        console.log(`# MEASURED ${c.initiator} rekeyed the IKE SA against charon: iiptran on ${now.spiI}_i ${now.spiR}_r ${ms} ms after ${c.initiator === 'charon' ? 'swanctl --rekey' : 'establishment'}; keys equal charon's`);
        ok = true;
      });
    });
  });
});
