// Contender 2: OpenVPN 2.6 point-to-point over UDP, AES-256-GCM data channel, userspace (DCO off).
// TLS p2p mode: self-signed EC certificates pinned with --peer-fingerprint (no CA), `dh none`.

import { X509Certificate } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Contender } from './contender.js';
import { UNDERLAY_A, UNDERLAY_B, type Side } from './netns.js';
import { run, runOk, type BgProcess } from './proc.js';

export const OVPN_A = '10.255.1.1';
export const OVPN_B = '10.255.1.2';
const PORT = '1194';

async function makeCert(dir: string, name: string): Promise<{ crt: string; key: string; fingerprint: string }> {
  const crt = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  await runOk(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
      '-subj', `/CN=iib-ovpn-${name}`, '-keyout', key, '-out', crt],
    { timeoutMs: 15_000 },
  );
  const fingerprint = new X509Certificate(await readFile(crt)).fingerprint256; // "AB:CD:..."
  return { crt, key, fingerprint };
}

export const openvpn: Contender = {
  name: 'openvpn',
  tag: 'ovpn',
  requires: ['openvpn', 'openssl'],
  async setup(pair, workDir) {
    const certs = { a: await makeCert(workDir, 'ovpn-a'), b: await makeCert(workDir, 'ovpn-b') };
    const procs: BgProcess[] = [];
    for (const side of ['a', 'b'] as Side[]) {
      const other: Side = side === 'a' ? 'b' : 'a';
      const conf = [
        'dev tun',
        'proto udp',
        `local ${side === 'a' ? UNDERLAY_A : UNDERLAY_B}`,
        `lport ${PORT}`,
        `remote ${side === 'a' ? UNDERLAY_B : UNDERLAY_A} ${PORT}`,
        `ifconfig ${side === 'a' ? OVPN_A + ' ' + OVPN_B : OVPN_B + ' ' + OVPN_A}`,
        side === 'a' ? 'tls-client' : 'tls-server',
        'dh none',
        `cert ${certs[side].crt}`,
        `key ${certs[side].key}`,
        `peer-fingerprint ${certs[other].fingerprint}`,
        'data-ciphers AES-256-GCM',
        'disable-dco',
        'ping 5',
        'verb 3',
        '',
      ].join('\n');
      const file = join(workDir, `ovpn-${side}.conf`);
      await writeFile(file, conf, { mode: 0o600 });
      procs.push(pair.spawn(side, `openvpn (${side.toUpperCase()})`, 'openvpn', ['--config', file]));
    }
    try {
      await Promise.all(procs.map((p) => p.waitFor(/Initialization Sequence Completed/, 20_000)));
      await pair.waitPing('a', OVPN_B, 10_000, 'OpenVPN tunnel', procs);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- openvpn A log ---\n${procs[0]!.tail(800)}\n--- openvpn B log ---\n${procs[1]!.tail(800)}`);
    }
    const cipher = procs[0]!.output.match(/Data Channel: cipher '([^']+)'/)?.[1] ?? 'unknown';
    if (cipher !== 'AES-256-GCM') throw new Error(`OpenVPN negotiated data-channel cipher ${cipher}, expected AES-256-GCM`);
    const ver = (await run('openvpn', ['--version'], { timeoutMs: 5000 })).stdout.split('\n')[0] ?? '';
    return {
      target: OVPN_B,
      pids: [procs[0]!.child.pid!, procs[1]!.child.pid!],
      detail: `${ver.split(' ').slice(0, 2).join(' ')}, p2p TLS (peer-fingerprint), UDP, data cipher ${cipher}, DCO off, tun-mtu 1500`,
    };
  },
};
