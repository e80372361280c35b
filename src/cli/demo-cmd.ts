// `iiptran demo`: the smallest real overlay, end to end, in two network namespaces. It shows
// the routing table joined with vlinks and SAs, pings across, and proves the underlay carries
// only ESP. Everything is removed afterwards (or on Ctrl-C with --keep).

import path from 'node:path';
import { PairLab } from '../lab/pair-lab.js';
import { nsExec, parsePing } from '../lab/netns.js';
import { renderRoutes, renderSas, renderLinks } from '../tools/inspector.js';
import { IiptranError } from '../errors.js';
import type { Suite } from '../control/config-types.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export async function demoCommand(o: { suite: Suite; encap: 'udp' | 'esp'; keep: boolean }): Promise<void> {
  if (process.getuid?.() !== 0) throw new IiptranError('IIPTRAN_ERR_USAGE', 'demo needs root (it creates network namespaces and TUN interfaces)');
  const step = (s: string) => process.stdout.write(`\n== ${s}\n`);
  const lab = new PairLab({ prefix: `iitdemo${process.pid}`, suite: o.suite, encap: o.encap, log: (m) => process.stdout.write(`   ${m}\n`) });
  const cleanup = () => void lab.down().then(() => process.exit(130));
  process.once('SIGINT', cleanup);
  try {
    step(`bringing up two nodes (${o.suite}, ${o.encap === 'udp' ? 'ESP in UDP 4500' : 'raw ESP'})`);
    await lab.up();
    step(`node a: links (\`iiptran show links --socket ${lab.a.socket}\`)`);
    process.stdout.write(renderLinks((await lab.show(lab.a, 'links')) as Obj) + '\n');

    step(`VN ping ${lab.a.vn} -> ${lab.b.vn} across the overlay`);
    const ping = await nsExec(lab.a.ns, ['ping', '-c', '5', '-i', '0.2', '-I', lab.a.vn, lab.b.vn], { allowFail: true });
    process.stdout.write(ping.stdout);
    const p = parsePing(ping.stdout);

    step('node a: routes joined with vlink, outer header, policy and SA (`iiptran show routes`)');
    process.stdout.write(renderRoutes((await lab.show(lab.a, 'routes')) as Obj) + '\n');
    step('node b: SAs (`iiptran show sas`)');
    process.stdout.write(renderSas((await lab.show(lab.b, 'sas')) as Obj) + '\n');

    step('underlay capture on node a (tcpdump): only ESP crosses the underlay');
    const filter = o.encap === 'udp' ? 'udp port 4500' : 'ip proto 50';
    const cap = nsExec(lab.a.ns, ['timeout', '5', 'tcpdump', '-c', '4', '-n', '-l', '-i', 'eth-u', filter], { allowFail: true, timeoutMs: 10000 });
    // Give tcpdump a moment to attach, then make the traffic it should see.
    await new Promise((r) => setTimeout(r, 700));
    await nsExec(lab.a.ns, ['ping', '-c', '2', '-i', '0.2', '-I', lab.a.vn, lab.b.vn], { allowFail: true });
    process.stdout.write((await cap).stdout || '(nothing captured: is tcpdump installed?)\n');

    step(p.received === p.sent && p.sent > 0 ? `OK: ${p.received}/${p.sent} pings answered, avg ${p.avgMs} ms` : `FAILED: ${p.received}/${p.sent} pings answered`);
    if (p.received !== p.sent || p.sent === 0) process.exitCode = 1;
    if (o.keep) {
      process.stdout.write(
        `\nKept running. Try:\n  ip netns exec ${lab.a.ns} ping ${lab.b.vn}\n  node ${path.join('bin', 'iiptran.js')} show counters --socket ${lab.a.socket}\nCtrl-C removes everything.\n`,
      );
      await new Promise(() => {});
    }
  } finally {
    if (!o.keep) await lab.down();
  }
}
