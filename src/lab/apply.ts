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
import { flatActions, planLab, type Action, type Step } from './plan.js';
import { labDir, nodePaths, readState, saveState, type LabState } from './state.js';
import { teardown } from './teardown.js';
import { renderMilestones, requireFping, waitConverged, type ConvergeResult } from './converge.js';
import { birdReady } from './bird-ctl.js';
import { frrReady } from './frr-ctl.js';
import { requireKea, startLabKea } from './kea.js';
import { labScale, mapLimit, probeConcurrency, StartWindow, waveCount, type LabScale } from './waves.js';
import { prepareDns, startNsd } from './dns-service.js';

/** Test hook: `IIPTRAN_LAB_FAIL_AT=<step>` makes `lab up` fail as that step begins. */
export const FAIL_AT_ENV = 'IIPTRAN_LAB_FAIL_AT';

export interface UpOptions {
  /** `--timeout`: the convergence wait in seconds; undefined: scaled to the lab (waves.ts). */
  timeoutS?: number | undefined;
  /** Cores to size windows and deadlines for; default os.availableParallelism(). */
  parallelism?: number | undefined;
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

/** Whether this build's node config accepts named peers (`dns:`, a host name as `peer`; DNS-CONTRACT). */
export function daemonSupportsNamedPeers(): boolean {
  const sample = `node: x\nunderlay: { address: 10.0.0.1 }\ndns: { servers: [10.0.0.53], trust_anchors: ["test. 3600 IN DS 1 13 2 ${'ab'.repeat(32)}"], dnssec: require }\nvlinks:\n  - name: vl-y\n    peer: y.overlay.test\n    address: 10.1.0.0/31\n    keying: { mode: manual, suite: aes-gcm-256, spi_in: 0x1000, spi_out: 0x1001, key_in: a, key_out: b }\n`;
  try {
    parseNodeConfig(sample, { baseDir: '/' });
    return true;
  } catch (e) {
    return !/\bdns\b|peer/.test((e as Error).message);
  }
}

/** Whether this build's node config accepts KX vlinks (`peer_domain`, `auth: dns`; KX-CONTRACT). */
export function daemonSupportsKx(): boolean {
  const sample = `node: x\nunderlay: { address: 10.0.0.1 }\ndns: { servers: [10.0.0.53], trust_anchors: ["test. 3600 IN DS 1 13 2 ${'ab'.repeat(32)}"], dnssec: require }\nvlinks:\n  - name: vl-y\n    peer_domain: site-b.test\n    address: 10.1.0.0/31\n    keying: { mode: ikev2, auth: dns, private_key: k.key, role: initiator, local_id: site-a.test }\n`;
  try {
    parseNodeConfig(sample, { baseDir: '/' });
    return true;
  } catch (e) {
    return !/peer_domain|auth/.test((e as Error).message);
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

/** What the actions of one step share: how many run at once, the daemons' start windows and deadline, the abort on first failure, and timings. */
interface StepContext {
  concurrency: number;
  windows: Record<'iiptran' | 'bird' | 'frr', StartWindow>;
  readyMs: number;
  abort: AbortController;
  /** Spawn-to-ready time of each daemon started in this step. */
  readyTimes: number[];
  /** Daemons spawned so far in this step. */
  spawned: number;
}

async function waitReady(a: Extract<Action, { kind: 'spawn' }>, pid: number, exited: () => number | null, ctx: StepContext): Promise<void> {
  const t0 = Date.now();
  const deadline = t0 + ctx.readyMs;
  for (;;) {
    if (ctx.abort.signal.aborted) throw ctx.abort.signal.reason;
    const code = exited();
    if (code !== null) throw new IiptranError('IIPTRAN_ERR_LAB', `${a.role} on node ${a.node} (pid ${pid}) exited with ${code} during start-up; ${a.log}:\n${tail(a.log)}`);
    const ok = 'control' in a.ready
      ? await controlCall(a.ready.control, 'ping', {}, 1000).then(() => true, () => false)
      : 'vty' in a.ready ? await frrReady(a.ready.vty) : await birdReady(a.ready.birdc);
    if (ok) {
      ctx.readyTimes.push(Date.now() - t0);
      return;
    }
    if (Date.now() > deadline) {
      throw new IiptranError(
        'IIPTRAN_ERR_LAB',
        `${a.role} on node ${a.node} (pid ${pid}) did not become ready in ${Math.round(ctx.readyMs / 1000)} s (the deadline grows with the lab's size per core and with --timeout); ${a.log}:\n${tail(a.log)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Waits until the daemon a spawn depends on (an FRR node's zebra) answers, within the step's deadline. */
async function waitAfter(a: Extract<Action, { kind: 'spawn' }>, ctx: StepContext): Promise<void> {
  const deadline = Date.now() + ctx.readyMs;
  while (!(await frrReady(a.after!))) {
    if (ctx.abort.signal.aborted) throw ctx.abort.signal.reason;
    if (Date.now() > deadline) throw new IiptranError('IIPTRAN_ERR_LAB', `${a.argv[0]} on node ${a.node} needs ${a.after} to answer first, and it did not within ${Math.round(ctx.readyMs / 1000)} s; ${a.log}:\n${tail(a.log)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function perform(a: Action, s: LabState, pending: Promise<void>[], ctx: StepContext): Promise<void> {
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
      if (a.after !== undefined) await waitAfter(a, ctx);
      if (ctx.abort.signal.aborted) throw ctx.abort.signal.reason;
      const win = ctx.windows[a.role];
      await win.enter();
      fs.mkdirSync(path.dirname(a.log), { recursive: true });
      const fd = fs.openSync(a.log, 'a');
      // Own session and no pipes back to us: the daemon must outlive `lab up`.
      const child = spawn('ip', ['netns', 'exec', a.ns, ...a.argv], { detached: true, stdio: ['ignore', fd, fd] });
      fs.closeSync(fd);
      child.on('error', () => {});
      child.unref();
      if (child.pid === undefined) {
        const e = new IiptranError('IIPTRAN_ERR_LAB', `cannot start ${a.argv.join(' ')} in ${a.ns}`);
        win.fail(e);
        throw e;
      }
      s.processes.push({ pid: child.pid, role: a.role, node: a.node, ns: a.ns, log: a.log });
      ctx.spawned++;
      saveState(s);
      const ready = waitReady(a, child.pid, () => child.exitCode ?? (child.signalCode !== null ? 128 : null), ctx);
      const settled =
        ready.then(
          () => win.leave(),
          (e) => {
            // The first failure stops the step: no further spawns, and the others stop waiting.
            win.fail(e);
            if (!ctx.abort.signal.aborted) ctx.abort.abort(e);
            win.leave();
            throw e;
          },
        );
      // Handled by runStep once the step's actions are performed; until then (an FRR daemon
      // waiting for its zebra can take a while) a failure must not count as unhandled.
      settled.catch(() => {});
      pending.push(settled);
      return;
    }
    case 'group':
      if (a.parallel) await mapLimit(a.actions, ctx.concurrency, (x) => perform(x, s, pending, ctx));
      else for (const x of a.actions) await perform(x, s, pending, ctx);
      return;
    case 'kea':
      await startLabKea(s.model.dhcp!, s.dir, s);
      return;
    case 'converge':
      return;
    case 'dns':
      if (a.phase === 'zones') await prepareDns(s);
      else await startNsd(s);
      return;
  }
}

export interface UpResult {
  state: LabState;
  converge: ConvergeResult;
  scale: LabScale;
}

function stepContext(scale: LabScale): StepContext {
  return {
    concurrency: probeConcurrency(scale.parallelism),
    // An FRR node starts three or four daemons, each lighter than one BIRD: BIRD's window fits.
    windows: { iiptran: new StartWindow(scale.window.iiptran), bird: new StartWindow(scale.window.bird), frr: new StartWindow(scale.window.bird) },
    readyMs: scale.readyMs,
    abort: new AbortController(),
    readyTimes: [],
    spawned: 0,
  };
}

/** Performs a step's actions in order; spawns go through the windows and the step ends when every daemon answers, or at the first failure. */
async function runStep(st: Step, s: LabState, ctx: StepContext, out: (line: string) => void): Promise<void> {
  const pending: Promise<void>[] = [];
  const spawns = flatActions([st]).filter((a) => a.kind === 'spawn').length;
  // A 100-daemon step takes a while: say how far it got every few seconds.
  const progress = spawns > 0 ? setInterval(() => out(`      ${ctx.readyTimes.length}/${spawns} answering`), 5000) : null;
  const stopped = () => {
    if (spawns > 0) out(`      stopped starting daemons: ${ctx.spawned} of ${spawns} had been started`);
  };
  try {
    for (const a of st.actions) await perform(a, s, pending, ctx);
  } catch (e) {
    ctx.abort.abort(e);
    await Promise.allSettled(pending);
    stopped();
    throw e;
  } finally {
    if (progress !== null) clearInterval(progress);
  }
  const results = await Promise.allSettled(pending);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed !== undefined) {
    stopped();
    throw ctx.abort.signal.aborted ? ctx.abort.signal.reason : failed.reason;
  }
}

function startSummary(st: Step, ctx: StepContext): string {
  const spawned = flatActions([st]).filter((a): a is Extract<Action, { kind: 'spawn' }> => a.kind === 'spawn');
  if (spawned.length === 0) return '';
  const t = [...ctx.readyTimes].sort((x, y) => x - y);
  const role = spawned[0]!.role;
  const win = ctx.windows[role];
  const median = t[Math.floor(t.length / 2)] ?? 0;
  return ` (${spawned.length} started, at most ${win.peak} at once (window ${win.size}, ${waveCount(spawned.length, win.size)} waves); spawn to answer: median ${median} ms, max ${t.at(-1) ?? 0} ms)`;
}

export async function labUp(file: string, o: UpOptions): Promise<UpResult> {
  const topo = loadTopology(file);
  const model = buildModel(topo);
  const dir = labDir(model.name);
  const clash = (await listNs()).filter((n) => n.startsWith(model.nsPrefix));
  if (readState(model.name) !== null || clash.length > 0) {
    throw new IiptranError('IIPTRAN_ERR_LAB', `lab ${model.name} already exists (${clash.length > 0 ? `namespaces ${clash.join(', ')}` : dir}); run \`iiptran lab down ${model.name}\` first`);
  }
  await requireFping();
  if (model.dns?.namedPeers && !daemonSupportsNamedPeers()) {
    throw new IiptranError('IIPTRAN_ERR_LAB', `lab ${model.name}: its vlinks name their peers (dns.named_peers, default true), but this iiptran build's node config has no named peers (dns:, peer: HOST); set dns.named_peers: false to run the DNS service with address peers`);
  }
  if (model.sites !== undefined && !daemonSupportsKx()) {
    throw new IiptranError('IIPTRAN_ERR_LAB', `lab ${model.name}: its sites need KX vlinks (peer_domain, keying auth: dns), which this iiptran build's node config does not have`);
  }
  if (model.dhcp !== undefined) await requireKea();
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

  const scale = labScale(model.nodes.length, { parallelism: o.parallelism, timeoutS: o.timeoutS });
  o.out(`sizing for ${scale.parallelism} core${scale.parallelism === 1 ? '' : 's'}: at most ${scale.window.iiptran} iiptran and ${scale.window.bird} BIRD start-ups at once, ${Math.round(scale.readyMs / 1000)} s for each to answer, ${Math.round(scale.convergeMs / 1000)} s to converge`);

  let step = '';
  try {
    for (const [i, st] of steps.entries()) {
      step = st.name;
      if (st.name === 'converge') break;
      const t0 = Date.now();
      o.out(`[${i + 1}/${steps.length}] ${st.name}: ${st.title}`);
      if (o.failAt === st.name) throw new IiptranError('IIPTRAN_ERR_LAB', `injected failure at step "${st.name}" (${FAIL_AT_ENV})`);
      const ctx = stepContext(scale);
      await runStep(st, s, ctx, o.out);
      o.out(`      done in ${Date.now() - t0} ms${startSummary(st, ctx)}`);
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
  o.out(`[${steps.length}/${steps.length}] converge: ${conv.title} (up to ${Math.round(scale.convergeMs / 1000)} s)`);
  if (o.failAt === 'converge') {
    await teardown(model.name);
    throw new IiptranError('IIPTRAN_ERR_LAB', `injected failure at step "converge" (${FAIL_AT_ENV})`);
  }
  const converge = await waitConverged(s, scale.convergeMs, (p) => o.out(`      waiting: ${p[0]}${p.length > 1 ? ` (+${p.length - 1} more)` : ''}`));
  o.out(`      ${converge.converged ? 'converged' : 'gave up'} after ${(converge.elapsedMs / 1000).toFixed(1)} s; each condition first held at: ${renderMilestones(converge.milestones)}`);
  s.status = converge.converged ? 'up' : 'degraded';
  converge.status.status = s.status;
  saveState(s);
  return { state: s, converge, scale };
}
