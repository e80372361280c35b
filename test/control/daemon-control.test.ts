// The daemon's control socket end to end (fake TUNs and underlay, real socket): views and
// methods from explicit tables, counters in ping, and control_socket_group applied to the file.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { runDaemon } from '../../src/control/daemon.js';
import { controlCall } from '../../src/control/control-client.js';
import { writeKeyFile } from '../../src/control/keyfile.js';
import { FakeTun } from '../../src/io/fake-tun.js';
import { FakeUnderlay } from '../../src/io/fake-underlay.js';
import { fakeNodeIo } from './fake-node-io.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iit-dctl-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));
// Root can hand the socket to any group; anyone else only to a group of their own.
const GID = process.getuid?.() === 0 ? 65534 : process.getgid!();

function writeConfig(group: number | undefined): string {
  const file = path.join(dir, 'n1.yaml');
  fs.writeFileSync(file, `node: n1
control_socket: ${dir}/n1.sock
${group === undefined ? '' : `control_socket_group: ${group}\n`}underlay: { address: 192.0.2.1 }
vlinks:
  - { name: vl-b, peer: 192.0.2.2, address: 10.255.0.0/31, liveness: off,
      keying: { mode: manual, suite: aes-gcm-128, spi_in: 0x1001, spi_out: 0x2001, key_in: in.key, key_out: out.key } }
`);
  return file;
}

test('the daemon socket: group and mode, only real methods and views, counters in ping, group fixed until restart', async () => {
  writeKeyFile(path.join(dir, 'in.key'), 'aes-gcm-128');
  writeKeyFile(path.join(dir, 'out.key'), 'aes-gcm-128');
  const file = writeConfig(GID);
  const [u] = FakeUnderlay.pair('192.0.2.1', 4500, '192.0.2.2', 4500, 'udp', { poison: false });
  const h = await runDaemon(file, fakeNodeIo(u, new Map<string, FakeTun>()), pino({ level: 'silent' }));
  const sock = path.join(dir, 'n1.sock');
  try {
    const st = fs.statSync(sock);
    assert.deepEqual({ mode: st.mode & 0o777, gid: st.gid }, { mode: 0o660, gid: GID });

    for (const m of ['constructor', 'toString', 'hasOwnProperty']) {
      await assert.rejects(controlCall(sock, m), (e: Error & { code?: string }) => {
        assert.equal(e.code, 'IIPTRAN_ERR_CONTROL');
        assert.match(e.message, new RegExp(`unknown method "${m}"; one of: ping, show, reload`));
        return true;
      });
    }
    for (const what of ['constructor', 'toString', '__proto__', 'valueOf']) {
      await assert.rejects(controlCall(sock, 'show', { what }), (e: Error & { code?: string }) => {
        assert.equal(e.code, 'IIPTRAN_ERR_USAGE');
        assert.match(e.message, new RegExp(`unknown view "${what}"; one of: links, policies, sas, counters, ike, routes`));
        return true;
      });
    }
    const links = (await controlCall(sock, 'show', { what: 'links' })) as { links: unknown[] };
    assert.equal(links.links.length, 1);

    const ping = (await controlCall(sock, 'ping')) as { control: { accepted: number; unknownMethod: number; refusedBusy: number } };
    assert.equal(ping.control.unknownMethod, 3);
    assert.equal(ping.control.refusedBusy, 0);
    assert.ok(ping.control.accepted >= 9);

    writeConfig(undefined);
    await assert.rejects(controlCall(sock, 'reload'), /control_socket_group: cannot change on reload; restart the daemon/);
    writeConfig(GID);
    assert.deepEqual(await controlCall(sock, 'reload'), { added: [], removed: [], kept: ['vl-b'] });
  } finally {
    await h.stop();
  }
  assert.equal(fs.existsSync(sock), false);
});
