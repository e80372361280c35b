// Contender 3: wireguard-go (userspace WireGuard, ChaCha20-Poly1305), MTU 1420, configured with `wg set`.

import { access, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Contender } from './contender.js';
import { UNDERLAY_A, UNDERLAY_B, type Side } from './netns.js';
import { run, runOk, sleep } from './proc.js';

export const WG_A = '10.255.2.1';
export const WG_B = '10.255.2.2';
const PORT = '51820';
const MTU = '1420';

export const wireguardGo: Contender = {
  name: 'wireguard-go',
  tag: 'wg',
  requires: ['wireguard-go', 'wg'],
  async setup(pair, workDir) {
    // The UAPI socket lives in /var/run/wireguard/<ifname>.sock, which is NOT per network namespace,
    // so the two ends (and concurrent runs) need distinct interface names.
    const ifname = { a: `wg${process.pid}a`, b: `wg${process.pid}b` };
    const keys = { a: { priv: '', pub: '' }, b: { priv: '', pub: '' } };
    for (const side of ['a', 'b'] as Side[]) {
      keys[side].priv = (await runOk('wg', ['genkey'])).trim();
      keys[side].pub = (await runOk('wg', ['pubkey'], { input: keys[side].priv + '\n' })).trim();
    }
    const env = { ...process.env, WG_PROCESS_FOREGROUND: '1', LOG_LEVEL: 'error' };
    const procs = (['a', 'b'] as Side[]).map((side) =>
      pair.spawn(side, `wireguard-go (${side.toUpperCase()})`, 'wireguard-go', [ifname[side]], env),
    );
    for (const side of ['a', 'b'] as Side[]) {
      const other: Side = side === 'a' ? 'b' : 'a';
      const sock = `/var/run/wireguard/${ifname[side]}.sock`;
      const deadline = Date.now() + 10_000;
      for (;;) {
        const ok = await access(sock).then(() => true, () => false);
        if (ok) break;
        const p = procs[side === 'a' ? 0 : 1]!;
        if (!p.running) throw new Error(`${p.label} exited (${p.exitInfo?.code}): ${p.tail()}`);
        if (Date.now() > deadline) throw new Error(`${p.label}: UAPI socket ${sock} did not appear in 10 s: ${p.tail()}`);
        await sleep(50);
      }
      const keyFile = join(workDir, `wg-${side}.key`);
      await writeFile(keyFile, keys[side].priv + '\n', { mode: 0o600 });
      const ns = pair.ns(side);
      await runOk('ip', ['netns', 'exec', ns, 'wg', 'set', ifname[side], 'listen-port', PORT, 'private-key', keyFile,
        'peer', keys[other].pub, 'endpoint', `${side === 'a' ? UNDERLAY_B : UNDERLAY_A}:${PORT}`,
        'allowed-ips', `${side === 'a' ? WG_B : WG_A}/32`]);
      await runOk('ip', ['-n', ns, 'addr', 'add', `${side === 'a' ? WG_A : WG_B}/24`, 'dev', ifname[side]]);
      await runOk('ip', ['-n', ns, 'link', 'set', ifname[side], 'mtu', MTU, 'up']);
    }
    try {
      await pair.waitPing('a', WG_B, 10_000, 'wireguard-go tunnel', procs);
    } catch (err) {
      const show = await pair.exec('a', 'wg', ['show', ifname.a]);
      throw new Error(`${(err as Error).message}\n--- wg show (A) ---\n${show.stdout}${show.stderr}\n--- wireguard-go A log ---\n${procs[0]!.tail(600)}\n--- wireguard-go B log ---\n${procs[1]!.tail(600)}`);
    }
    const ver = (await run('wireguard-go', ['--version'], { timeoutMs: 5000 })).stdout.trim().split('\n')[0] ?? '';
    return {
      target: WG_B,
      detail: `${ver || 'wireguard-go'}, ChaCha20-Poly1305, UDP, MTU ${MTU}`,
      pids: [procs[0]!.child.pid!, procs[1]!.child.pid!],
    };
  },
};
