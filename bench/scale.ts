// The scaling row: one iiptran node with 30 vlinks to 30 peers (31 daemons, 31 namespaces), every
// vlink pushing TCP at once (an iperf3 per vlink, all from the hub). Reports the aggregate
// throughput, the spread between vlinks, and what the hub's memory grows by per vlink.
//
// Underlay: a bridge in the hub's namespace holds 10.202.0.1/24; each peer hangs off it by a
// veth with 10.202.0.<1+i>. VN: vlink i is 10.254.<i>.0/31 (hub) <-> 10.254.<i>.1/31 (peer).

import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Meter, rssMiB } from './meter.js';
import { createNs, destroyNs } from './netns.js';
import { IIPTRAN_BIN } from './overlay.js';
import { BgProcess, run, runOk, sleep } from './proc.js';

export const SCALE_VLINKS = 30;
const HUB_UNDERLAY = '10.202.0.1';

export interface ScaleResult {
  vlinks: number;
  /** Sum of the receivers' goodput, Mbit/s. */
  aggregateMbps: number;
  perVlinkMbps: { min: number; median: number; max: number };
  /** The hub daemon over the measured part: CPU seconds per GB sent and peak RSS. */
  hubCpuSPerGB: number;
  hubRssIdleMiB: number;
  hubRssPeakMiB: number;
  /** Median peak RSS of the peer daemons (one vlink each). */
  peerRssPeakMiB: number;
  /** (hub peak RSS - median peer peak RSS) / (vlinks - 1): what a vlink adds to a daemon. */
  perVlinkMiB: number;
  path: string;
}

const underlay = (i: number): string => `10.202.0.${i + 1}`;
const vn = (i: number, side: 0 | 1): string => `10.254.${i}.${side}`;

function config(name: string, sock: string, local: string, vlinks: string[]): string {
  return [`node: ${name}`, `control_socket: ${sock}`, 'log_level: warn', `underlay: { address: ${local}, mtu: 1500 }`, 'vlinks:', ...vlinks, ''].join('\n');
}

function vlinkYaml(name: string, peer: string, addr: string, spiIn: number, spiOut: number, keyIn: string, keyOut: string): string {
  return [
    `  - name: ${name}`, `    peer: ${peer}`, '    encap: udp', `    address: ${addr}/31`, '    keying:', '      mode: manual',
    '      suite: aes-gcm-256', `      spi_in: 0x${spiIn.toString(16)}`, `      spi_out: 0x${spiOut.toString(16)}`,
    `      key_in: ${keyIn}`, `      key_out: ${keyOut}`,
  ].join('\n');
}

const ns = (tag: string): string => `iib-${process.pid}-sc-${tag}`;

export async function measureScale(root: string, seconds: number, log: (m: string) => void, n = SCALE_VLINKS): Promise<ScaleResult> {
  const dir = join(root, 'scale');
  await mkdir(dir, { mode: 0o700 });
  const hub = ns('hub');
  const peers = Array.from({ length: n }, (_, i) => ns(`p${i + 1}`));
  const procs: BgProcess[] = [];
  try {
    await createNs(hub);
    await runOk('ip', ['-n', hub, 'link', 'add', 'br0', 'type', 'bridge']);
    await runOk('ip', ['-n', hub, 'addr', 'add', `${HUB_UNDERLAY}/24`, 'dev', 'br0']);
    await runOk('ip', ['-n', hub, 'link', 'set', 'br0', 'up']);
    const hubVlinks: string[] = [];
    for (let i = 1; i <= n; i++) {
      const p = peers[i - 1]!;
      await createNs(p);
      await runOk('ip', ['link', 'add', `ul${i}`, 'netns', hub, 'type', 'veth', 'peer', 'name', 'ul0', 'netns', p]);
      await runOk('ip', ['-n', hub, 'link', 'set', `ul${i}`, 'master', 'br0', 'up']);
      await runOk('ip', ['-n', p, 'addr', 'add', `${underlay(i)}/24`, 'dev', 'ul0']);
      await runOk('ip', ['-n', p, 'link', 'set', 'ul0', 'up']);
      const toPeer = join(dir, `hub-to-${i}.key`);
      const toHub = join(dir, `${i}-to-hub.key`);
      await writeFile(toPeer, randomBytes(36).toString('hex'), { mode: 0o600 });
      await writeFile(toHub, randomBytes(36).toString('hex'), { mode: 0o600 });
      hubVlinks.push(vlinkYaml(`vl-p${i}`, underlay(i), vn(i, 0), 0x1000 + i, 0x2000 + i, toHub, toPeer));
      const file = join(dir, `p${i}.yaml`);
      await writeFile(file, config(`p${i}`, join(dir, `p${i}.sock`), underlay(i), [vlinkYaml('vl-hub', HUB_UNDERLAY, vn(i, 1), 0x2000 + i, 0x1000 + i, toPeer, toHub)]), { mode: 0o600 });
    }
    const hubFile = join(dir, 'hub.yaml');
    await writeFile(hubFile, config('hub', join(dir, 'hub.sock'), HUB_UNDERLAY, hubVlinks), { mode: 0o600 });
    const spawn = (where: string, label: string, file: string): BgProcess => {
      const b = new BgProcess(label, 'ip', ['netns', 'exec', where, process.execPath, IIPTRAN_BIN, 'node', '--config', file]);
      procs.push(b);
      return b;
    };
    const hubProc = spawn(hub, 'scale hub', hubFile);
    const peerProcs = peers.map((p, i) => spawn(p, `scale peer ${i + 1}`, join(dir, `p${i + 1}.yaml`)));
    log(`scale: ${n + 1} daemons starting`);
    const deadline = Date.now() + 60_000 + n * 2000;
    for (let i = 1; i <= n; i++) {
      for (;;) {
        const r = await run('ip', ['netns', 'exec', hub, 'ping', '-c', '1', '-W', '1', '-n', vn(i, 1)], { timeoutMs: 3000 });
        if (r.code === 0) break;
        for (const b of procs) if (!b.running) throw new Error(`${b.label} exited (${b.exitInfo?.code}): ${b.tail(400)}`);
        if (Date.now() > deadline) throw new Error(`scale: vlink ${i} does not pass ping`);
        await sleep(200);
      }
    }
    const hubPid = hubProc.child.pid!;
    const hubRssIdleMiB = (await rssMiB(hubPid)) ?? 0;
    log(`scale: all ${n} vlinks pass ping; hub RSS ${hubRssIdleMiB.toFixed(1)} MiB; ${n} iperf3 at once for ${seconds} s`);
    for (let i = 1; i <= n; i++) {
      procs.push(new BgProcess(`iperf3 server ${i}`, 'ip', ['netns', 'exec', peers[i - 1]!, 'iperf3', '-s', '-1', '-B', vn(i, 1), '--forceflush']));
    }
    await Promise.all(procs.slice(-n).map((b) => b.waitFor(/Server listening/, 10_000)));
    const meter = new Meter([hubPid, ...peerProcs.map((b) => b.child.pid!)]);
    const clients = Array.from({ length: n }, (_, k) =>
      run('ip', ['netns', 'exec', hub, 'iperf3', '-c', vn(k + 1, 1), '-t', String(seconds), '-O', '1', '-J', '--connect-timeout', '5000'], {
        timeoutMs: (seconds + 60) * 1000,
      }),
    );
    await sleep(1500);
    await meter.start();
    const t0 = Date.now();
    const results = await Promise.all(clients);
    const usage = await meter.stop();
    const wallS = (Date.now() - t0) / 1000;
    const mbps = results.map((r, k) => {
      try {
        return (JSON.parse(r.stdout) as { end: { sum_received: { bits_per_second: number } } }).end.sum_received.bits_per_second / 1e6;
      } catch {
        throw new Error(`scale: iperf3 to vlink ${k + 1} printed no result: ${(r.stderr || r.stdout).slice(-300)}`);
      }
    });
    const sorted = [...mbps].sort((a, b) => a - b);
    const aggregate = mbps.reduce((a, b) => a + b, 0);
    const peerRss = usage.slice(1).map((u) => u.rssMaxMiB).sort((a, b) => a - b);
    const peerMedian = peerRss[Math.floor(peerRss.length / 2)]!;
    const hubUse = usage[0]!;
    const links = await run(process.execPath, [IIPTRAN_BIN, 'show', 'links', '--json', '--socket', join(dir, 'hub.sock')], { timeoutMs: 10_000 });
    let path = '?';
    try {
      const p = (JSON.parse(links.stdout) as { links: Array<{ path?: Record<string, unknown> }> }).links[0]?.path;
      if (p) path = Object.entries(p).map(([k, v]) => `${k}=${String(v)}`).join(' ');
    } catch {
      /* older daemon */
    }
    return {
      vlinks: n,
      aggregateMbps: aggregate,
      perVlinkMbps: { min: sorted[0]!, median: sorted[Math.floor(n / 2)]!, max: sorted[n - 1]! },
      hubCpuSPerGB: hubUse.cpuS / wallS / (aggregate / 8 / 1000),
      hubRssIdleMiB,
      hubRssPeakMiB: hubUse.rssMaxMiB,
      peerRssPeakMiB: peerMedian,
      perVlinkMiB: (hubUse.rssMaxMiB - peerMedian) / (n - 1),
      path,
    };
  } finally {
    await Promise.all(procs.map((b) => b.stop(2000).catch(() => undefined)));
    for (const p of [...peers, hub]) await destroyNs(p).catch(() => undefined);
  }
}
