import { checkNodeConfig } from '../control/config-check.js';
import { table } from '../lab/table.js';

// The daemon validates with the same checkNodeConfig at start and on SIGHUP, so "ok" here means
// the daemon accepts the file.
export async function checkConfigCommand(o: { file: string; json: boolean }): Promise<void> {
  const { cfg, vlinks: rows } = checkNodeConfig(o.file);
  if (o.json) {
    process.stdout.write(JSON.stringify({ ok: true, node: cfg.node, vlinks: rows }, null, 2) + '\n');
    return;
  }
  process.stdout.write(`${o.file}: ok (node ${cfg.node}, underlay ${cfg.underlay.address} mtu ${cfg.underlay.mtu})\n`);
  process.stdout.write(table(['VLINK', 'PEER', 'ENCAP', 'SUITE', 'MTU', 'MAX MTU'], rows.map((r) => [r.name, r.peer, r.encap, r.suite, r.mtu, r.maxMtu])) + '\n');
}
