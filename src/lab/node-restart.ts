// Stopping and starting one node's iiptran daemon in a running lab (`lab restart`, and `lab
// readdress`, since a daemon cannot change its underlay address on reload): the config is
// regenerated from the lab model, the process record in state.json replaced, and the new
// daemon is ready when its control socket answers. BIRD keeps running: it sees the vlink
// TUNs go and come back.

import fs from 'node:fs';
import path from 'node:path';
import { controlCall } from '../control/control-client.js';
import { IiptranError } from '../errors.js';
import { logTail, isOurs, spawnDetached, stopPid } from './detached.js';
import { nodeConfigYaml } from './node-config.js';
import { REPO_ROOT } from './pair-lab.js';
import { nodeOf, saveState, type LabState } from './state.js';

const READY_MS = 20000;
const STOP_GRACE_MS = 5000;

export async function stopNodeDaemon(s: LabState, node: string): Promise<number> {
  nodeOf(s, node);
  const t0 = Date.now();
  for (const p of s.processes.filter((x) => x.node === node && x.role === 'iiptran')) {
    if (isOurs(p.pid, s.dir)) await stopPid(p.pid, STOP_GRACE_MS);
  }
  s.processes = s.processes.filter((x) => !(x.node === node && x.role === 'iiptran'));
  saveState(s);
  return Date.now() - t0;
}

/** Writes the node's config from the model and starts its daemon; resolves when it answers. */
export async function startNodeDaemon(s: LabState, node: string): Promise<{ pid: number; readyMs: number }> {
  const { paths, model } = nodeOf(s, node);
  fs.writeFileSync(paths.config, nodeConfigYaml(s.model, model, paths.socket, s.liveness), { mode: 0o600 });
  const t0 = Date.now();
  const child = spawnDetached(model.ns, [process.execPath, path.join(REPO_ROOT, 'bin', 'iiptran.js'), 'node', '--config', paths.config], paths.log);
  s.processes.push({ pid: child.pid, role: 'iiptran', node, ns: model.ns, log: paths.log });
  saveState(s);
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new IiptranError('IIPTRAN_ERR_LAB', `iiptran on node ${node} (pid ${child.pid}) exited with ${child.exitCode ?? child.signalCode} during start-up; ${paths.log}:\n${logTail(paths.log)}`);
    }
    if (await controlCall(paths.socket, 'ping', {}, 1000).then(() => true, () => false)) return { pid: child.pid, readyMs: Date.now() - t0 };
    if (Date.now() - t0 > READY_MS) throw new IiptranError('IIPTRAN_ERR_LAB', `iiptran on node ${node} (pid ${child.pid}) did not answer within ${READY_MS / 1000} s; ${paths.log}:\n${logTail(paths.log)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function restartNodeDaemon(s: LabState, node: string): Promise<{ pid: number; stopMs: number; readyMs: number }> {
  const stopMs = await stopNodeDaemon(s, node);
  const r = await startNodeDaemon(s, node);
  return { ...r, stopMs };
}
