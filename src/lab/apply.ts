// `lab up`: runs the plan step by step with progress, recording each namespace, file and
// process in state.json before it exists, so a failure (or a kill) at any point can be rolled
// back by teardown. Daemons are started detached: they outlive the `lab up` command.

import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { parseNodeConfig } from '../control/config.js';
import { controlCall } from '../control/control-client.js';
import { writeKeyFile, generateKeyHex, writeSecretFile } from '../control/keyfile.js';
import { generateAuthKey } from '../ike/crypto/auth.js';
import type { Suite } from '../control/config-types.js';
import { IiptranError } from '../errors.js';
import { addNs, listNs, run } from './netns.js';
import { REPO_ROOT } from './pair-lab.js';
import { loadTopology } from './topology.js';
import { buildModel } from './topology-model.js';
import { planLab, type Action, type Step } from './plan.js';
import { labDir, nodePaths, readState, saveState, type LabState } from './state.js';
import { teardown } from './teardown.js';
import { waitConverged, type ConvergeResult } from './converge.js';

/** Test hook: `IIPTRAN_LAB_FAIL_AT=<step>` makes `lab up` fail as that step begins. */
export const FAIL_AT_ENV = 'IIPTRAN_LAB_FAIL_AT';

export interface UpOptions {
  timeoutMs: number;
  out: (line: string) => void;
  failAt?: string | undefined;
}

/** Whether this build's node config accepts per-vlink `liveness` (added with link liveness). */
export function daemonSupportsLiveness(): boolean {
  const sample = `node: x\nunderlay: { address: 10.0.0.1 }\nvlinks:\n  - name: vl-y\n    peer: 10.0.0.2\n    address: 10.1.0.0/31\n    liveness: { interval_ms: 200, dead_ms: 1000 }\n    keying: { mode: manual, suite: aes-gcm-256, spi_in: 0x1000, spi_out: 0x1001, key_in: a, key_out: b }\n`;
  try {
    parseNodeConfig(sample, { baseDir: '/' });
    return true;
  } catch (e) {
    return !/liveness/.test((e as Error).message);
  }
}

function tail(file: string | null, lines = 15): string {
  if (file === null) return '';
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).map((l) => `    | ${l}`).join('\n');
  } catch {
    return '    | (no log)';
  }
}

async function waitReady(a: Extract<Action, { kind: 'spawn' }>, pid: number, exited: () => number | null): Promise<void> {
  const deadline = Date.now() + 20000;
  for (;;) {
    const code = exited();
    if (code !== null) throw new IiptranError('IIPTRAN_ERR_LAB', `${a.role} on node ${a.node} (pid ${pid}) exited with ${code} during start-up; ${a.log}:\n${tail(a.log)}`);
    const ok = 'control' in a.ready
      ? await controlCall(a.ready.control, 'ping', {}, 1000).then(() => true, () => false)
      : (await run('birdc', ['-s', a.ready.birdc, 'show', 'status'], { allowFail: true, timeoutMs: 2000 })).code === 0;
    if (ok) return;
    if (Date.now() > deadline) throw new IiptranError('IIPTRAN_ERR_LAB', `${a.role} on node ${a.node} (pid ${pid}) did not become ready in 20 s; ${a.log}:\n${tail(a.log)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function perform(a: Action, s: LabState, pending: Promise<void>[]): Promise<void> {
  switch (a.kind) {
    case 'netns':
      s.namespaces.push(a.ns);
      saveState(s);
      await addNs(a.ns);
      return;
    case 'cmd':
      await (a.ns === null ? run(a.argv[0]!, a.argv.slice(1)) : run('ip', ['netns', 'exec', a.ns, ...a.argv]));
      return;
    case 'file':
      if (a.external) {
        s.files.push(path.dirname(a.path));
        saveState(s);
      }
      fs.mkdirSync(path.dirname(a.path), { recursive: true });
      fs.writeFileSync(a.path, a.content, { mode: a.mode });
      return;
    case 'key': {
      const hex = generateKeyHex(a.suite as Suite);
      for (const p of a.paths) writeKeyFile(p, a.suite as Suite, { hex });
      return;
    }
    case 'psk': {
      // 32 random bytes as 0x-hex (psk.ts's byte form); created 0600 and never over an old file.
      const body = `0x${randomBytes(32).toString('hex')}\n`;
      for (const p of a.paths) {
        fs.writeFileSync(p, body, { mode: 0o600, flag: 'wx' });
        fs.chmodSync(p, 0o600);
      }
      return;
    }
    case 'authkey': {
      // Raw public keys (RFC 7670): the node's key never leaves its directory; only the public
      // half is copied to its peers, as an operator would with `iiptran genauthkey`.
      const { privateKey, publicKey } = generateAuthKey('ed25519');
      writeSecretFile(a.privatePath, Buffer.from(privateKey.export({ format: 'pem', type: 'pkcs8' }) as string, 'latin1'));
      const pem = publicKey.export({ format: 'pem', type: 'spki' }) as string;
      for (const p of a.publicPaths) fs.writeFileSync(p, pem, { mode: 0o644, flag: 'wx' });
      return;
    }
    case 'spawn': {
      fs.mkdirSync(path.dirname(a.log), { recursive: true });
      const fd = fs.openSync(a.log, 'a');
      // Own session and no pipes back to us: the daemon must outlive `lab up`.
      const child = spawn('ip', ['netns', 'exec', a.ns, ...a.argv], { detached: true, stdio: ['ignore', fd, fd] });
      fs.closeSync(fd);
      child.on('error', () => {});
      child.unref();
      if (child.pid === undefined) throw new IiptranError('IIPTRAN_ERR_LAB', `cannot start ${a.argv.join(' ')} in ${a.ns}`);
      s.processes.push({ pid: child.pid, role: a.role, node: a.node, ns: a.ns, log: a.log });
      saveState(s);
      pending.push(waitReady(a, child.pid, () => child.exitCode ?? (child.signalCode !== null ? 128 : null)));
      return;
    }
    case 'converge':
      return;
  }
}

export interface UpResult {
  state: LabState;
  converge: ConvergeResult;
}

export async function labUp(file: string, o: UpOptions): Promise<UpResult> {
  const topo = loadTopology(file);
  const model = buildModel(topo);
  const dir = labDir(model.name);
  const clash = (await listNs()).filter((n) => n.startsWith(model.nsPrefix));
  if (readState(model.name) !== null || clash.length > 0) {
    throw new IiptranError('IIPTRAN_ERR_LAB', `lab ${model.name} already exists (${clash.length > 0 ? `namespaces ${clash.join(', ')}` : dir}); run \`iiptran lab down ${model.name}\` first`);
  }
  const liveness = daemonSupportsLiveness();
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const nodes = Object.fromEntries(model.nodes.map((n) => [n.name, nodePaths(model.name, model, n.name)]));
  const s: LabState = {
    version: 1,
    name: model.name,
    topologyFile: path.resolve(file),
    dir,
    createdAt: new Date().toISOString(),
    status: 'starting',
    liveness,
    namespaces: [],
    files: [],
    processes: [],
    faults: [],
    nodes,
    model,
  };
  saveState(s);
  fs.copyFileSync(file, path.join(dir, 'topology.yaml'));
  const steps: Step[] = planLab(model, { labDir: dir, cli: path.join(REPO_ROOT, 'bin', 'iiptran.js'), nodeBin: process.execPath, nodePaths: (n) => nodes[n]!, liveness });
  o.out(`lab ${model.name}: ${model.nodes.length} nodes, ${model.routers.length} routers, ${model.segments.length} segments, ${model.vlinks.length} vlinks; state in ${dir}`);
  if (!liveness) o.out('note: this iiptran build has no vlink liveness; vlink state follows OSPF dead timers only');

  let step = '';
  try {
    for (const [i, st] of steps.entries()) {
      step = st.name;
      if (st.name === 'converge') break;
      const t0 = Date.now();
      o.out(`[${i + 1}/${steps.length}] ${st.name}: ${st.title}`);
      if (o.failAt === st.name) throw new IiptranError('IIPTRAN_ERR_LAB', `injected failure at step "${st.name}" (${FAIL_AT_ENV})`);
      const pending: Promise<void>[] = [];
      for (const a of st.actions) await perform(a, s, pending);
      await Promise.all(pending);
      o.out(`      done in ${Date.now() - t0} ms`);
    }
  } catch (e) {
    s.status = 'failed';
    saveState(s);
    o.out(`step ${step} failed: ${(e as Error).message}`);
    o.out(`rolling back lab ${model.name}...`);
    await teardown(model.name, (m) => o.out(`      ${m}`));
    throw e;
  }

  const conv = steps.find((x) => x.name === 'converge')!;
  o.out(`[${steps.length}/${steps.length}] converge: ${conv.title} (up to ${Math.round(o.timeoutMs / 1000)} s)`);
  if (o.failAt === 'converge') {
    await teardown(model.name);
    throw new IiptranError('IIPTRAN_ERR_LAB', `injected failure at step "converge" (${FAIL_AT_ENV})`);
  }
  const converge = await waitConverged(s, o.timeoutMs, (p) => o.out(`      waiting: ${p[0]}${p.length > 1 ? ` (+${p.length - 1} more)` : ''}`));
  s.status = converge.converged ? 'up' : 'degraded';
  converge.status.status = s.status;
  saveState(s);
  return { state: s, converge };
}
