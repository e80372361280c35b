// A DNS lab in two namespaces joined by a veth: NSD serving the zones of zones.ts on
// 192.0.2.53 in "<prefix>s", clients (our probe, unbound-host, delv) in "<prefix>c".

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { addNs, delNsSync, nsExec, vethPair } from '../../../src/lab/netns.js';
import { buildZones, SERVER_ADDR, type ZoneLab } from './zones.js';

export interface DnsLab {
  lab: ZoneLab;
  srvNs: string;
  cliNs: string;
  stop(): Promise<void>;
}

async function waitTcp(ns: string, addr: string, port: number, ms: number): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    const r = await nsExec(ns, ['bash', '-c', `exec 3<>/dev/tcp/${addr}/${port}`], { allowFail: true, timeoutMs: 2000 });
    if (r.code === 0) return;
    if (Date.now() - t0 > ms) throw new Error(`NSD did not listen on ${addr}:${port} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 30));
  }
}

export async function startDnsLab(prefix: string, nowSec: number): Promise<DnsLab> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${prefix}-`));
  const srvNs = `${prefix}s`;
  const cliNs = `${prefix}c`;
  let nsd: ChildProcess | null = null;
  const stop = async () => {
    if (nsd && nsd.exitCode === null) {
      const gone = new Promise((r) => nsd!.once('exit', r));
      nsd.kill('SIGTERM');
      await Promise.race([gone, new Promise((r) => setTimeout(r, 4000))]);
    }
    delNsSync(srvNs);
    delNsSync(cliNs);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    const lab = buildZones(dir, nowSec);
    await addNs(srvNs);
    await addNs(cliNs);
    await vethPair(srvNs, `${prefix}a`, `${SERVER_ADDR}/24`, cliNs, `${prefix}b`, '192.0.2.2/24');
    const log = fs.openSync(path.join(dir, 'nsd.log'), 'a');
    nsd = spawn('ip', ['netns', 'exec', srvNs, 'nsd', '-d', '-c', lab.nsdConf], { stdio: ['ignore', log, log] });
    fs.closeSync(log);
    await waitTcp(cliNs, SERVER_ADDR, 53, 5000);
    return { lab, srvNs, cliNs, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
