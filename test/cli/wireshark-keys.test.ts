// The key export without root: the daemon's `secrets` method hands out exactly the key files'
// key||salt (manual keying), refuses a socket shared with a group, is never a `show` view; the
// Wireshark lines have the UAT shape tshark reads (test/netns/wireshark-export.test.ts decrypts
// with them), and a second export merges into the first.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { runDaemon } from '../../src/control/daemon.js';
import { controlCall } from '../../src/control/control-client.js';
import type { EspSecret, IkeSecret } from '../../src/control/key-export.js';
import { FakeTun } from '../../src/io/fake-tun.js';
import { FakeUnderlay } from '../../src/io/fake-underlay.js';
import { ESP_SA_FILE, IKE_TABLE_FILE, espSaLine, ikeTableLine, mergeKeyFile } from '../../src/cli/wireshark-keys-cmd.js';
import { fakeNodeIo, manualKeying, pairYaml, writePairKeys } from '../control/fake-node-io.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iit-wskeys-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));
const GID = process.getuid?.() === 0 ? 65534 : process.getgid!();

const hexOf = (file: string) => fs.readFileSync(file, 'utf8').replace(/#.*$/gm, '').replace(/\s|0x/g, '');

test('secrets: the SAs\' keys, only on a root-only socket, never in a view', async () => {
  writePairKeys(dir, 'aes-gcm-256');
  const file = path.join(dir, 'a.yaml');
  const yaml = pairYaml(dir, 'a', manualKeying('a', 'aes-gcm-256'));
  fs.writeFileSync(file, yaml);
  const [u] = FakeUnderlay.pair('192.0.2.1', 4500, '192.0.2.2', 4500, 'udp', { poison: false });
  const h = await runDaemon(file, fakeNodeIo(u, new Map<string, FakeTun>()), pino({ level: 'silent' }));
  const sock = path.join(dir, 'a.sock');
  try {
    const r = (await controlCall(sock, 'secrets', { what: 'esp' })) as { esp: EspSecret[] };
    const out = r.esp.find((s) => s.dir === 'out')!;
    const inn = r.esp.find((s) => s.dir === 'in')!;
    assert.deepEqual([out.spi, out.src, out.dst, out.key], ['0x00001001', '192.0.2.1', '192.0.2.2', hexOf(path.join(dir, 'a-out.key'))]);
    assert.deepEqual([inn.spi, inn.src, inn.dst, inn.key], ['0x00002001', '192.0.2.2', '192.0.2.1', hexOf(path.join(dir, 'a-in.key'))]);
    assert.equal(out.wireshark, 'AES-GCM with 16 octet ICV [RFC4106]');
    assert.deepEqual(((await controlCall(sock, 'secrets', { what: 'ike' })) as { ike: IkeSecret[] }).ike, [], 'no IKE on a manual vlink');
    await assert.rejects(controlCall(sock, 'secrets', { what: 'nope' }), /what must be "esp" or "ike"/);
    await assert.rejects(controlCall(sock, 'show', { what: 'secrets' }), /unknown view "secrets"/);
    const sas = JSON.stringify(await controlCall(sock, 'show', { what: 'sas' }));
    assert.ok(!sas.includes(out.key) && !sas.includes(inn.key), 'show sas never carries a key');
  } finally {
    await h.stop();
  }

  fs.writeFileSync(file, yaml.replace('node: a\n', `node: a\ncontrol_socket_group: ${GID}\n`));
  const h2 = await runDaemon(file, fakeNodeIo(u, new Map<string, FakeTun>()), pino({ level: 'silent' }));
  try {
    await assert.rejects(controlCall(sock, 'secrets', { what: 'esp' }), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'IIPTRAN_ERR_CONTROL');
      assert.match(e.message, /key export refused: control_socket_group lets a group use this socket/);
      return true;
    });
  } finally {
    await h2.stop();
  }
});

test('UAT lines and merging: a re-exported SA replaced, others kept, 0600 in a 0700 directory', () => {
  const esp = (spi: string, key: string): EspSecret => ({ vlink: 'vl-b', dir: 'out', spi, src: '10.0.0.1', dst: '10.0.0.2', suite: 'aes-gcm-128', key, wireshark: 'AES-GCM with 16 octet ICV [RFC4106]' });
  assert.equal(espSaLine(esp('0x0000a001', 'ab'.repeat(20))), `"IPv4","10.0.0.1","10.0.0.2","0x0000a001","AES-GCM with 16 octet ICV [RFC4106]","0x${'ab'.repeat(20)}","NULL",""`);
  const ike = (aead: boolean): IkeSecret => ({
    vlink: 'vl-b', spiI: '0123456789abcdef', spiR: 'fedcba9876543210', state: 'ESTABLISHED', suite: 'x', skEi: 'e1', skEr: 'e2', skAi: 'a1', skAr: 'a2',
    wiresharkEncr: aead ? 'AES-GCM-128 with 16 octet ICV [RFC5282]' : 'AES-CBC-256 [RFC3602]', wiresharkInteg: aead ? 'NONE [RFC4306]' : 'HMAC_SHA2_256_128 [RFC4868]',
  });
  assert.equal(ikeTableLine(ike(true)), '0123456789abcdef,fedcba9876543210,e1,e2,"AES-GCM-128 with 16 octet ICV [RFC5282]",,,"NONE [RFC4306]"');
  assert.equal(ikeTableLine(ike(false)), '0123456789abcdef,fedcba9876543210,e1,e2,"AES-CBC-256 [RFC3602]",a1,a2,"HMAC_SHA2_256_128 [RFC4868]"');

  const ws = path.join(dir, 'ws');
  mergeKeyFile(ws, ESP_SA_FILE, [espSaLine(esp('0x0000a001', '11')), espSaLine(esp('0x0000a002', '22'))]);
  const target = mergeKeyFile(ws, ESP_SA_FILE, [espSaLine(esp('0x0000a002', '33')), espSaLine(esp('0x0000a003', '44'))]);
  const lines = fs.readFileSync(target, 'utf8').split('\n').filter((l) => l.startsWith('"'));
  assert.deepEqual(lines.map((l) => l.split(',')[3] + l.split(',')[5]), ['"0x0000a001""0x11"', '"0x0000a002""0x33"', '"0x0000a003""0x44"']);
  assert.equal(fs.statSync(ws).mode & 0o777, 0o700);
  assert.equal(fs.statSync(target).mode & 0o777, 0o600);
  mergeKeyFile(ws, IKE_TABLE_FILE, [ikeTableLine(ike(true))]);
  assert.equal(fs.readFileSync(path.join(ws, IKE_TABLE_FILE), 'utf8').split('\n').filter((l) => l !== '' && !l.startsWith('#')).length, 1);
});
