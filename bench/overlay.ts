// Contenders 4/5: the iiptran overlay (this project), one daemon per namespace:
//   node <repo>/bin/iiptran.js node --config <file>
// with a single manually keyed vlink (AES-GCM-256), encap 'udp' (RFC 3948) or 'esp' (IP proto 50).

import { randomBytes } from 'node:crypto';
import { access, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Contender } from './contender.js';
import { UNDERLAY_A, UNDERLAY_B, UNDERLAY_MTU, type Side } from './netns.js';
import { run, type BgProcess } from './proc.js';

export const OVERLAY_A = '10.255.0.0';
export const OVERLAY_B = '10.255.0.1';
const READY_TIMEOUT_MS = 15_000;

/** <repo>/bin/iiptran.js, from dist/bench/overlay.js. IIPTRAN_BIN overrides it (e.g. another checkout). */
export const IIPTRAN_BIN = process.env['IIPTRAN_BIN'] || fileURLToPath(new URL('../../bin/iiptran.js', import.meta.url));

/** Node options for the daemons (run.ts sets `--cpu-prof` here for --profile). */
export const daemonNodeArgs: { args: (name: string, side: Side) => string[] } = { args: () => [] };

/**
 * What `show links --json` says about the data path of A's vlink: offloads, crypto, drops at the
 * TUN. Older daemons without those fields say "?".
 */
async function pathOf(sock: string, bin: string): Promise<string> {
  const r = await run(process.execPath, [bin, 'show', 'links', '--json', '--socket', sock], { timeoutMs: 10_000 });
  try {
    type Link = { path?: Record<string, unknown>; tunDrops?: { tx: number; rx: number } | null; tsoSplit?: number };
    const l = (JSON.parse(r.stdout) as { links: Link[] }).links[0];
    const p = l?.path;
    if (p === undefined) return '?';
    const drops = l!.tunDrops ? `; TUN kernel drops tx=${l!.tunDrops.tx} rx=${l!.tunDrops.rx}` : '';
    return `${Object.entries(p).map(([k, v]) => `${k}=${fmtPath(v)}`).join(' ')}; super-packets split ${l!.tsoSplit ?? '?'}${drops}`;
  } catch {
    return `? (${(r.stderr || r.stdout).trim().slice(0, 120)})`;
  }
}

/** A path field: the fast path's counts as on/off with out and in batches handled / handed to JS. */
function fmtPath(v: unknown): string {
  if (v === null || typeof v !== 'object') return String(v);
  const f = v as { on?: boolean; batches?: number; fallbacks?: number; inSas?: number; inBatches?: number; inFallbacks?: number };
  if (f.batches === undefined) return JSON.stringify(v);
  return `${f.on ? 'on' : 'off'}(out ${f.batches}/${f.fallbacks} in ${f.inBatches}/${f.inFallbacks} batches native/JS)`;
}

function nodeConfig(side: Side, encap: 'udp' | 'esp', dir: string): string {
  const a = side === 'a';
  return [
    `node: ${side}`,
    `control_socket: ${join(dir, `${side}.sock`)}`,
    'log_level: warn',
    `underlay: { address: ${a ? UNDERLAY_A : UNDERLAY_B}, mtu: ${UNDERLAY_MTU} }`,
    'vlinks:',
    `  - name: ${a ? 'vl-b' : 'vl-a'}`,
    `    peer: ${a ? UNDERLAY_B : UNDERLAY_A}`,
    `    encap: ${encap}`,
    `    address: ${a ? OVERLAY_A : OVERLAY_B}/31`,
    '    keying:',
    '      mode: manual',
    '      suite: aes-gcm-256',
    `      spi_in: ${a ? '0x1001' : '0x2001'}`,
    `      spi_out: ${a ? '0x2001' : '0x1001'}`,
    `      key_in: ${side}-in.key`,
    `      key_out: ${side}-out.key`,
    '',
  ].join('\n');
}

/**
 * A variant of the daemon for a row: another checkout's entry point (`bin`, e.g. the commit
 * before a change, for before/after in one run) and/or environment switches of the data path.
 */
export interface IiptranVariant {
  /** Row name suffix: `iiptran-<encap>-<suffix>`. */
  suffix: string;
  bin?: string;
  env?: Record<string, string>;
  /** Short tag for namespace names. */
  tag: string;
}

export function iiptran(encap: 'udp' | 'esp', variant?: IiptranVariant): Contender {
  const name = `iiptran-${encap}${variant ? `-${variant.suffix}` : ''}`;
  const bin = variant?.bin ?? IIPTRAN_BIN;
  const env = variant?.env ? { ...process.env, ...variant.env } : undefined;
  return {
    name,
    tag: `ii${encap}${variant?.tag ?? ''}`,
    requires: [],
    async setup(pair, dir) {
      try {
        await access(bin);
      } catch {
        throw new Error(`${name}: ${bin} does not exist (daemon not built/written yet?)`);
      }
      // key||salt, 32 + 4 bytes, hex. A's outbound SA is B's inbound SA and vice versa.
      const ab = randomBytes(36).toString('hex');
      const ba = randomBytes(36).toString('hex');
      await writeFile(join(dir, 'a-out.key'), ab, { mode: 0o600 });
      await writeFile(join(dir, 'b-in.key'), ab, { mode: 0o600 });
      await writeFile(join(dir, 'b-out.key'), ba, { mode: 0o600 });
      await writeFile(join(dir, 'a-in.key'), ba, { mode: 0o600 });
      const procs: BgProcess[] = [];
      for (const side of ['a', 'b'] as Side[]) {
        const file = join(dir, `${side}.yaml`);
        await writeFile(file, nodeConfig(side, encap, dir), { mode: 0o600 });
        const nodeArgs = daemonNodeArgs.args(name, side);
        procs.push(pair.spawn(side, `${name} daemon ${side.toUpperCase()}`, process.execPath, [...nodeArgs, bin, 'node', '--config', file], env));
      }
      try {
        await pair.waitPing('a', OVERLAY_B, READY_TIMEOUT_MS, `${name} overlay`, procs);
      } catch (err) {
        const last = (i: number): string => procs[i]!.output.trim().split('\n').at(-1) ?? '';
        const hint = last(0) ? `; daemon A stderr: ${last(0)}` : '; daemon A printed nothing';
        throw new Error(
          `${(err as Error).message}${hint}\n--- daemon A output ---\n${procs[0]!.tail(800) || '(none)'}\n--- daemon B output ---\n${procs[1]!.tail(800) || '(none)'}`,
        );
      }
      const mtu = (await pair.exec('a', 'cat', ['/sys/class/net/vl-b/mtu'])).stdout.trim() || '?';
      const what = variant ? ` (${variant.bin ? `daemon ${variant.bin}` : ''}${variant.env ? ` ${Object.entries(variant.env).map(([k, v]) => `${k}=${v}`).join(' ')}` : ''})` : '';
      return {
        target: OVERLAY_B,
        detail: `iiptran vlink encap ${encap}, aes-gcm-256 manual keying, TUN MTU ${mtu}${what}`,
        pids: [procs[0]!.child.pid!, procs[1]!.child.pid!],
        path: () => pathOf(join(dir, 'a.sock'), bin),
      };
    },
  };
}
