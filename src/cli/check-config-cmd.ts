import { loadNodeConfig } from '../control/config.js';
import { vlinkMtu } from '../dataplane/mtu.js';
import { loadKeyFile } from '../control/keyfile.js';
import { loadPskFile } from '../control/ike/psk.js';
import { loadPubkeyAuth } from '../control/ike/auth-pubkey.js';
import { table } from '../tools/table.js';

export async function checkConfigCommand(o: { file: string; json: boolean }): Promise<void> {
  const cfg = loadNodeConfig(o.file);
  const rows = cfg.vlinks.map((v) => {
    const k = v.keying;
    let suite: string;
    if (k.mode === 'manual') {
      loadKeyFile(k.keyIn, k.suite);
      loadKeyFile(k.keyOut, k.suite);
      suite = k.suite;
    } else {
      if (k.auth === 'pubkey') loadPubkeyAuth(k.privateKey, k.peerPublicKey);
      else loadPskFile(k.pskFile).fill(0);
      suite = `ikev2: ${k.espProposals.join(',')}`;
    }
    const max = vlinkMtu(cfg.underlay.mtu, v.encap);
    return { name: v.name, peer: v.peer, encap: v.encap, suite, mtu: v.mtu === 'auto' ? max : v.mtu, maxMtu: max };
  });
  if (o.json) {
    process.stdout.write(JSON.stringify({ ok: true, node: cfg.node, vlinks: rows }, null, 2) + '\n');
    return;
  }
  process.stdout.write(`${o.file}: ok (node ${cfg.node}, underlay ${cfg.underlay.address} mtu ${cfg.underlay.mtu})\n`);
  process.stdout.write(table(['VLINK', 'PEER', 'ENCAP', 'SUITE', 'MTU', 'MAX MTU'], rows.map((r) => [r.name, r.peer, r.encap, r.suite, r.mtu, r.maxMtu])) + '\n');
}
