import { loadNodeConfig } from '../control/config.js';
import { vlinkMtu } from '../dataplane/mtu.js';
import { loadKeyFile } from '../control/keyfile.js';
import { table } from '../tools/table.js';

export async function checkConfigCommand(o: { file: string; json: boolean }): Promise<void> {
  const cfg = loadNodeConfig(o.file);
  const rows = cfg.vlinks.map((v) => {
    loadKeyFile(v.keying.keyIn, v.keying.suite);
    loadKeyFile(v.keying.keyOut, v.keying.suite);
    const max = vlinkMtu(cfg.underlay.mtu, v.encap);
    return { name: v.name, peer: v.peer, encap: v.encap, suite: v.keying.suite, mtu: v.mtu === 'auto' ? max : v.mtu, maxMtu: max };
  });
  if (o.json) {
    process.stdout.write(JSON.stringify({ ok: true, node: cfg.node, vlinks: rows }, null, 2) + '\n');
    return;
  }
  process.stdout.write(`${o.file}: ok (node ${cfg.node}, underlay ${cfg.underlay.address} mtu ${cfg.underlay.mtu})\n`);
  process.stdout.write(table(['VLINK', 'PEER', 'ENCAP', 'SUITE', 'MTU', 'MAX MTU'], rows.map((r) => [r.name, r.peer, r.encap, r.suite, r.mtu, r.maxMtu])) + '\n');
}
