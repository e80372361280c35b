// `iiptran show sas|ike --wireshark DIR` against tshark: a pair keyed by IKEv2 (so every key is
// negotiated, none is on disk), node a restarted under capture so the whole IKE_SA_INIT and
// IKE_AUTH are in it, pings over the new CHILD_SA; then tshark, given only the two files the CLI
// wrote, must open IKE_AUTH (IDs, AUTH, traffic selectors) and every ESP packet of the pings
// with a verified ICV. Without the files, or with one flipped key nibble, it must not.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { PairLab, REPO_ROOT } from '../../src/lab/pair-lab.js';
import { nsExec } from '../../src/lab/netns.js';
import { capture, tshark, uniquePrefix, netnsSkip } from './helpers.js';

const skip = netnsSkip(['ip', 'ping', 'tcpdump', 'tshark']);
const CLI = path.join(REPO_ROOT, 'bin', 'iiptran.js');

// IKE payload types (RFC 7296 §3.2) tshark lists once it has decrypted an SK payload.
const SK = '46';
const INNER = { IDi: '35', IDr: '36', AUTH: '39', SA: '33', TSi: '44', TSr: '45' };

describe('Wireshark key export', { skip }, () => {
  test('tshark decrypts IKE_AUTH and the ESP of a ping with only the exported files', async () => {
    const lab = new PairLab({ prefix: uniquePrefix('w'), keying: 'ikev2', ikeYaml: ['ike_proposals: [aes256gcm16-prfsha256-x25519]', 'esp_proposals: [aes128gcm16]'] });
    try {
      await lab.up();
      const pcap = path.join(lab.dir, 'u.pcap');
      const cap = await capture(lab.a.ns, 'eth-u', pcap, ['udp']);
      // A restarted initiator negotiates from scratch: IKE_SA_INIT and IKE_AUTH go through the capture.
      await lab.killAndRestart(lab.a);
      await lab.waitReachable();
      await nsExec(lab.a.ns, ['ping', '-c', '4', '-i', '0.05', '-I', lab.a.vn, lab.b.vn]);
      await cap.stop();

      const dir = path.join(lab.dir, 'ws');
      const run = (what: string) => spawnSync(process.execPath, [CLI, 'show', what, '--wireshark', dir, '--socket', lab.a.socket, '--json'], { encoding: 'utf8' });
      const sas = run('sas');
      assert.equal(sas.status, 0, sas.stderr);
      assert.match(sas.stderr, /WARNING: writing secret ESP keys to/);
      assert.equal((JSON.parse(sas.stdout) as { written: number }).written, 2, 'the CHILD_SA: in and out');
      const ike = run('ike');
      assert.equal(ike.status, 0, ike.stderr);
      assert.match(ike.stderr, /WARNING: writing secret IKE keys to .*forge its IKE messages/);
      assert.equal((JSON.parse(ike.stdout) as { written: number }).written, 1);
      assert.equal(fs.statSync(dir).mode & 0o777, 0o700);
      for (const f of ['esp_sa', 'ikev2_decryption_table']) assert.equal(fs.statSync(path.join(dir, f)).mode & 0o777, 0o600, `${f} is 0600`);

      const fields = ['-T', 'fields', '-E', 'separator=|', '-e', 'isakmp.exchangetype', '-e', 'isakmp.typepayload', '-e', 'isakmp.id.data.ipv4_addr', '-e', 'esp.spi', '-e', 'esp.icv_good', '-e', 'icmp.type', '-e', 'ip.src'];
      const decode = async (confDir: string) =>
        (await tshark(['-r', pcap, '-o', 'esp.enable_encryption_decode:TRUE', '-o', 'esp.enable_authentication_check:TRUE', ...fields], { WIRESHARK_CONFIG_DIR: confDir }))
          .trim().split('\n').map((l) => l.split('|'));

      const rows = await decode(dir);
      const auth = rows.filter((r) => r[0] === '35');
      assert.equal(auth.length, 2, 'IKE_AUTH request and response');
      for (const [, payloads, ids] of auth) {
        const p = payloads!.split(',');
        assert.equal(p[0], SK);
        for (const t of [INNER.AUTH, INNER.SA, INNER.TSi, INNER.TSr, INNER.IDr]) assert.ok(p.includes(t), `payload ${t} decrypted in ${payloads}`);
        assert.ok(ids!.split(',').includes(lab.b.underlay), `IDr ${lab.b.underlay} read from the decrypted IDr payload (${ids})`);
      }
      assert.ok(auth[0]![1]!.split(',').includes(INNER.IDi), 'the request carries IDi');
      // Every ESP packet of the exported SAs (the pings, waitReachable's and liveness probes):
      // ICV verified; the pings' requests and replies found inside.
      const spis = [...fs.readFileSync(path.join(dir, 'esp_sa'), 'utf8').matchAll(/"(0x[0-9a-f]{8})"/g)].map((m) => m[1]!);
      assert.equal(spis.length, 2);
      const esp = rows.filter((r) => spis.includes(r[3]!));
      assert.ok(esp.length >= 8);
      for (const r of esp) assert.equal(r[4], '1', `ICV verified for SPI ${r[3]}`);
      assert.ok(esp.filter((r) => r[5] === '8').length >= 4, 'the echo requests decrypted');
      assert.ok(esp.filter((r) => r[5] === '0').length >= 4, 'the echo replies decrypted');

      // Negative controls: no files, or a key nibble flipped in each, and nothing opens.
      const empty = path.join(lab.dir, 'ws-empty');
      fs.mkdirSync(empty);
      const none = await decode(empty);
      // Undecrypted, tshark still names the SK payload and its (cleartext) first inner type, no more.
      const opened = (r: string[]) => r[1]!.split(',').some((t) => t === INNER.AUTH || t === INNER.TSi);
      assert.equal(none.filter((r) => r[0] === '35').length, 2);
      assert.ok(!none.some(opened), 'without the table IKE_AUTH stays closed');
      assert.equal(none.filter((r) => r[5] !== '' && r[5] !== undefined).length, 0, 'without esp_sa no ICMP is seen');
      const bad = path.join(lab.dir, 'ws-bad');
      fs.mkdirSync(bad);
      for (const f of ['esp_sa', 'ikev2_decryption_table']) {
        const text = fs.readFileSync(path.join(dir, f), 'utf8').replace(/(0x|,)([0-9a-f])([0-9a-f]{30,})/g, (_m, pre: string, d: string, rest: string) => `${pre}${d === '0' ? '1' : '0'}${rest}`);
        fs.writeFileSync(path.join(bad, f), text);
      }
      const wrong = await decode(bad);
      assert.ok(!wrong.some(opened), 'a wrong SK_e opens nothing');
      assert.ok(wrong.every((r) => r[4] !== '1'), 'a wrong ESP key verifies no ICV');
    } finally {
      await lab.down();
    }
  });
});
