// Traffic selectors for IPv6 inner packets against strongSwan charon (issue #10): a vlink's
// CHILD_SA names (host, 4) and (host, 41) on both sides, so a peer that builds kernel policies
// from the selectors lets next header 41 through. charon cannot install a CHILD_SA on this
// kernel (no kernel ESP, ../shared/interop/strongswan.md), so what it selected is read from its
// log (cfg level 2: "selected: ..." per side) and from its own INFORMATIONAL; iiptran's side from
// `show ike` and its log.

import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { uniquePrefix, netnsSkip } from './helpers.js';
import { CharonLab, type CharonCase } from './ike-charon-harness.js';

const skip = netnsSkip(['ip', 'unshare', 'mount', 'charon', 'swanctl']);

function tsConf(ts: string): (lab: CharonLab) => string {
  return (lab) => `connections {
  iip {
    version = 2
    mobike = no
    fragmentation = no
    local_addrs = ${lab.addrC}
    remote_addrs = ${lab.addrI}
    proposals = ${lab.c.ike}
    local { auth = psk
      id = ${lab.addrC} }
    remote { auth = psk
      id = ${lab.addrI} }
    children {
      vl { mode = transport
        local_ts = ${ts}
        remote_ts = ${ts}
        esp_proposals = ${lab.c.esp} }
    }
  }
}
secrets {
  ike-iip { id-a = ${lab.addrC}
    id-b = ${lab.addrI}
    secret = 0x${lab.psk} }
}
`;
}

// A second filelog at cfg level 2 (merged into the harness's charon { } section): the selector choice.
const tsLog = (lab: CharonLab) => `  filelog {
    ts {
      path = ${path.join(lab.charonDir, 'ts.log')}
      default = 1
      cfg = 2
      flush_line = yes
    }
  }`;

interface TsCase { name: string; initiator: 'iiptran' | 'charon'; ts: string; want: string[] }
const CASES: TsCase[] = [
  { name: 'charon initiates with ipencap and ipv6', initiator: 'charon', ts: 'dynamic[ipencap],dynamic[ipv6]', want: ['ipencap', 'ipv6'] },
  { name: 'iiptran initiates, charon allows ipencap and ipv6', initiator: 'iiptran', ts: 'dynamic[ipencap],dynamic[ipv6]', want: ['ipencap', 'ipv6'] },
  { name: 'iiptran initiates, charon allows ipencap only', initiator: 'iiptran', ts: 'dynamic[ipencap]', want: ['ipencap'] },
];

describe('CHILD_SA traffic selectors with protocol 41 against charon', { skip }, () => {
  CASES.forEach((tc, i) => {
    describe(tc.name, () => {
      const c: CharonCase = { initiator: tc.initiator, ike: 'aes256gcm16-prfsha256-x25519', esp: 'aes256gcm16', swanctlConf: tsConf(tc.ts) };
      const lab = new CharonLab(uniquePrefix(`t${i}`), c, 60 + i);
      c.charonConf = tsLog(lab);
      let ok = false;
      after(() => {
        lab.destroy();
        if (ok) lab.removeDir();
        else console.log(`# kept ${lab.dir} for inspection`);
      });

      test(`charon selects ${tc.want.join(' + ')} for both hosts`, async () => {
        await lab.up();
        if (tc.initiator === 'charon') await lab.swanctl(['--initiate', '--ike', 'iip', '--child', 'vl', '--timeout', '10'], true);
        await lab.until(async () => (await lab.show('ike')).peers[0]?.state === 'ESTABLISHED', 15000, 'iiptran ESTABLISHED');
        const tsFile = path.join(lab.charonDir, 'ts.log');
        await lab.until(() => /selecting traffic selectors for other:(\n.*=> (no )?match.*){2}/.test(lab.tail(tsFile, 400)), 10000, 'charon selected traffic selectors');
        // charon's choice, per host: "config: X, received: Y => match: 10.233.x.y/32[proto]".
        const chosen = new Map<string, Set<string>>();
        for (const m of lab.tail(tsFile, 400).matchAll(/=> match: ([0-9.]+)\/32\[(\w+)\]/g)) {
          chosen.set(m[1]!, (chosen.get(m[1]!) ?? new Set()).add(m[2]!));
        }
        for (const host of [lab.addrI, lab.addrC]) {
          assert.deepEqual([...(chosen.get(host) ?? [])].sort(), tc.want, `charon's selectors for ${host}:\n${lab.tail(tsFile, 60)}`);
        }
        if (tc.initiator === 'charon') {
          // We answered both; charon derived one kernel policy per protocol from them (and, with
          // no kernel ESP here, removed them again when the SA could not be installed).
          await lab.until(() => /policy 10\.233\.\d+\.1\/32\[ipv6\] === 10\.233\.\d+\.2\/32\[ipv6\]/.test(lab.tail(lab.charonLog, 400)), 10000, 'charon policy for protocol 41');
          assert.match(lab.tail(lab.charonLog, 400), /policy 10\.233\.\d+\.1\/32\[ipencap\] === 10\.233\.\d+\.2\/32\[ipencap\]/);
          assert.match(lab.tail(lab.iiptranLog, 200), /CHILD_SA installed for vl-c: .*protocols 4\+41/);
        } else {
          // Our offer always names both; charon narrowed to what it allows.
          assert.match(lab.tail(tsFile, 400), /received: 10\.233\.\d+\.2\/32\[ipv6\]/, 'iiptran offered protocol 41');
        }
        ok = true;
      });
    });
  });
});
