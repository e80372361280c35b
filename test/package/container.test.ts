// The Dockerfile, built and run with Debian's podman (runc, cgroupfs: ../shared/interop/
// containers.md has why). No container registry is reachable from this machine, so the base
// image is made here: a Debian 12 root file system from mmdebstrap, imported, plus this
// machine's node, npm, Node's headers and CA bundle (the npm registry is reached through a
// TLS-inspecting proxy). Both are cached in podman's storage under a tag naming what went in.
// Then: the runtime image has no compiler, the addon compiled in the build stage loads, and a
// node daemon runs in a container with a TUN, answers `show links`, and stops cleanly.
// Not in test:unit: the first run takes several minutes.

import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { REPO_ROOT } from '../../src/lab/pair-lab.js';
import { generateKeyHex, writeKeyFile } from '../../src/control/keyfile.js';
import { isRoot, requirePrograms } from '../netns/helpers.js';

const skip = isRoot ? requirePrograms(['podman', 'runc', 'mmdebstrap']) : 'needs root (rootful podman)';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'iit-podman-'));
const CONF = path.join(tmp, 'containers.conf');
fs.writeFileSync(CONF, '[containers]\ndefault_ulimits = []\n[engine]\ncgroup_manager = "cgroupfs"\nruntime = "runc"\n');
const env = { ...process.env, CONTAINERS_CONF: CONF };
const IMAGE = 'localhost/iiptran:test';
const CA = '/etc/ssl/certs/ca-certificates.crt';
const NODE_HEADERS = path.resolve(path.dirname(process.execPath), '..', 'include', 'node');
const NPM_DIR = path.resolve(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm');
const containers: string[] = [];

after(() => {
  for (const c of containers) spawnSync('podman', ['rm', '-f', c], { env });
  fs.rmSync(tmp, { recursive: true, force: true });
});

function podman(args: string[], timeoutMs = 120_000): { status: number | null; out: string; err: string } {
  const r = spawnSync('podman', args, { env, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 << 20 });
  return { status: r.status, out: r.stdout, err: `${r.stderr}${r.error ? ` (${r.error.message})` : ''}` };
}
function ok(args: string[], timeoutMs?: number): string {
  const r = podman(args, timeoutMs);
  assert.equal(r.status, 0, `podman ${args.join(' ')}: exit ${r.status}\n${r.out.slice(-4000)}\n${r.err.slice(-4000)}`);
  return r.out;
}
const exists = (image: string) => podman(['image', 'exists', image]).status === 0;

/** Debian 12 with this machine's Node.js: the stand-in for node:20-bookworm-slim. */
function baseImage(): string {
  const h = createHash('sha256').update(process.version).update(fs.readFileSync(CA)).digest('hex').slice(0, 12);
  const tag = `localhost/iiptran-test-base:${h}`;
  if (exists(tag)) return tag;
  const rootfs = 'localhost/iiptran-test-rootfs:bookworm';
  if (!exists(rootfs)) {
    const tar = path.join(tmp, 'rootfs.tar');
    const r = spawnSync('mmdebstrap', ['--quiet', '--variant=apt', '--include=ca-certificates', 'bookworm', tar], { encoding: 'utf8', timeout: 900_000 });
    assert.equal(r.status, 0, `mmdebstrap: ${r.stderr}`);
    ok(['import', '-q', tar, rootfs], 300_000);
  }
  const ctx = path.join(tmp, 'base');
  fs.mkdirSync(ctx);
  fs.copyFileSync(process.execPath, path.join(ctx, 'node'));
  fs.cpSync(NPM_DIR, path.join(ctx, 'npm'), { recursive: true, verbatimSymlinks: true });
  fs.cpSync(NODE_HEADERS, path.join(ctx, 'include-node'), { recursive: true });
  fs.copyFileSync(CA, path.join(ctx, 'ca.crt'));
  fs.writeFileSync(path.join(ctx, 'Containerfile'), [
    `FROM ${rootfs}`,
    'COPY node /usr/local/bin/node',
    'COPY npm /usr/local/lib/node_modules/npm',
    'COPY include-node /usr/local/include/node',
    'COPY ca.crt /etc/ssl/certs/host-ca.crt',
    // The user npmrc, so it holds for every --prefix too.
    'RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx && echo cafile=/etc/ssl/certs/host-ca.crt > /root/.npmrc && node --version',
    '',
  ].join('\n'));
  ok(['build', '--cgroup-manager', 'cgroupfs', '-q', '-t', tag, '-f', path.join(ctx, 'Containerfile'), ctx], 600_000);
  return tag;
}

describe('the container image', { skip }, () => {
  test('podman builds the Dockerfile; the runtime image has no compiler and the addon loads', () => {
    const base = baseImage();
    ok(['build', '--cgroup-manager', 'cgroupfs', '--build-arg', `BASE=${base}`, '-t', IMAGE, '-f', path.join(REPO_ROOT, 'Dockerfile'), REPO_ROOT], 1_800_000);
    const version = (JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    assert.equal(ok(['run', '--rm', '--network', 'none', IMAGE, 'iiptran', '--version']).trim(), version);
    assert.equal(ok(['run', '--rm', '--network', 'none', IMAGE, 'sh', '-c', 'for c in gcc g++ cc make; do command -v $c; done; true']).trim(), '', 'no compiler in the runtime image');
    for (const prog of ['ip', 'nft', 'bird', 'birdc']) ok(['run', '--rm', '--network', 'none', IMAGE, 'sh', '-c', `command -v ${prog}`]);
    const doctor = podman(['run', '--rm', '--network', 'none', '--cap-add', 'NET_ADMIN,NET_RAW', '--device', '/dev/net/tun', IMAGE, 'iiptran', 'doctor', '--json']);
    const rows = (JSON.parse(doctor.out) as { rows: { name: string; status: string; detail: string }[] }).rows;
    const addon = rows.find((r) => r.name === 'native addon')!;
    assert.equal(addon.status, 'ok', addon.detail);
  });

  test('a node runs in a container: TUN, control socket, clean stop on SIGTERM', async () => {
    assert.ok(exists(IMAGE), 'built by the previous test');
    const conf = path.join(tmp, 'node');
    fs.mkdirSync(conf);
    const hexA = generateKeyHex('aes-gcm-256');
    writeKeyFile(path.join(conf, 'out.key'), 'aes-gcm-256', { hex: hexA });
    writeKeyFile(path.join(conf, 'in.key'), 'aes-gcm-256', { hex: generateKeyHex('aes-gcm-256') });
    fs.writeFileSync(path.join(conf, 'node.yaml'), [
      'node: box', 'underlay: { address: 192.0.2.1 }', 'vn_prefixes: [10.10.0.0/16, 10.255.0.0/16]', 'vlinks:',
      '  - { name: vl-b, peer: 192.0.2.2, address: 10.255.0.0/31, liveness: off,',
      '      keying: { mode: manual, suite: aes-gcm-256, spi_in: 0x1001, spi_out: 0x2001, key_in: in.key, key_out: out.key } }', '',
    ].join('\n'));
    const name = `iit-box-${process.pid}`;
    containers.push(name);
    // No network but lo: the underlay address goes there, as an interface the node can bind.
    ok(['run', '-d', '--name', name, '--network', 'none', '--cap-add', 'NET_ADMIN,NET_RAW', '--device', '/dev/net/tun', '-v', `${conf}:/etc/iiptran:ro`, IMAGE,
      'sh', '-c', 'ip addr add 192.0.2.1/24 dev lo && exec iiptran node --config /etc/iiptran/node.yaml']);
    type Links = { links: { name: string; mtu: number; spiOut: string }[] };
    const poll = async (): Promise<Links> => {
      const t0 = Date.now();
      for (;;) {
        const r = podman(['exec', name, 'iiptran', 'show', 'links', '--json']);
        if (r.status === 0) return JSON.parse(r.out) as Links;
        if (Date.now() - t0 > 30_000) assert.fail(`no answer in 30 s: ${r.err}\n${podman(['logs', name]).err}`);
        await new Promise((res) => setTimeout(res, 300));
      }
    };
    const links = await poll();
    assert.deepEqual(links.links.map((l) => [l.name, l.mtu, l.spiOut]), [['vl-b', 1438, '0x00002001']]);
    assert.match(ok(['exec', name, 'ip', 'link', 'show', 'vl-b']), /vl-b/);
    assert.match(ok(['exec', name, 'nft', 'list', 'table', 'inet', 'iiptran_guard']), /vn_prefixes/);
    ok(['stop', '-t', '15', name], 60_000);
    assert.equal(ok(['inspect', name, '--format', '{{.State.ExitCode}}']).trim(), '0', 'SIGTERM is a clean stop');
    assert.match(podman(['logs', name]).err, /guard removed \(clean stop\)/);
  });
});
