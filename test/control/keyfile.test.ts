import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeyFileError } from '../../src/errors.js';
import { KEY_SIZES, generateKeyHex, loadKeyFile, parseKeyMaterial, writeKeyFile } from '../../src/control/keyfile.js';
import type { Suite } from '../../src/control/config-types.js';

const HEX36 = '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f' + 'a0a1a2a3';
const HEX20 = '000102030405060708090a0b0c0d0e0f' + 'b0b1b2b3';

let dir: string;
let n = 0;

function keyFile(content: string, mode = 0o600): string {
  const p = join(dir, `k${n++}.key`);
  writeFileSync(p, content, { mode });
  chmodSync(p, mode); // writeFileSync's mode is filtered by umask
  return p;
}

function throwsKey(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof KeyFileError, `expected KeyFileError, got ${String(e)}`);
    assert.equal(e.code, 'IIPTRAN_ERR_KEYFILE');
    assert.match(e.message, re);
    return true;
  });
}

describe('keyfile', () => {
  before(() => { dir = mkdtempSync(join(tmpdir(), 'iiptran-keyfile-')); });
  after(() => { rmSync(dir, { recursive: true, force: true }); });

  test('loads key||salt for every suite', () => {
    const k = loadKeyFile(keyFile(HEX36 + '\n'), 'aes-gcm-256');
    assert.equal(k.key.toString('hex'), HEX36.slice(0, 64));
    assert.equal(k.salt.toString('hex'), 'a0a1a2a3');
    assert.equal(loadKeyFile(keyFile(HEX36), 'chacha20-poly1305').key.length, 32);
    const g = loadKeyFile(keyFile(HEX20), 'aes-gcm-128');
    assert.equal(g.key.toString('hex'), HEX20.slice(0, 32));
    assert.equal(g.salt.toString('hex'), 'b0b1b2b3');
  });

  test('whitespace, # comments, upper case and 0x prefixes are allowed', () => {
    const text = [
      '# link a->b, aes-gcm-128',
      '  0x' + HEX20.slice(0, 16).toUpperCase() + '   # first half of the key',
      '\t' + HEX20.slice(16, 32).replace(/(..)/g, '$1 '),
      '',
      '0X' + HEX20.slice(32) + '\r',
      '# end',
    ].join('\n');
    const k = loadKeyFile(keyFile(text), 'aes-gcm-128');
    assert.equal(k.key.toString('hex') + k.salt.toString('hex'), HEX20);
  });

  test('missing file', () => {
    const p = join(dir, 'absent.key');
    throwsKey(() => loadKeyFile(p, 'aes-gcm-128'), new RegExp(`key file ${p}: does not exist`));
  });

  test('not a regular file', () => {
    const d = join(dir, 'adir');
    mkdirSync(d, { mode: 0o700 });
    throwsKey(() => loadKeyFile(d, 'aes-gcm-128'), /is not a regular file \(it is a directory\)/);
  });

  test('group/other mode bits are rejected with the chmod fix', () => {
    const p = keyFile(HEX20, 0o644);
    throwsKey(() => loadKeyFile(p, 'aes-gcm-128'), new RegExp(`mode 0644 is too open; run chmod 600 ${p}$`));
    throwsKey(() => loadKeyFile(keyFile(HEX20, 0o640), 'aes-gcm-128'), /mode 0640 is too open/);
    throwsKey(() => loadKeyFile(keyFile(HEX20, 0o601), 'aes-gcm-128'), /mode 0601 is too open/);
    assert.ok(loadKeyFile(keyFile(HEX20, 0o400), 'aes-gcm-128'));
  });

  test('owner must be the current uid or root', { skip: process.getuid?.() !== 0 && 'needs root to chown a file to someone else' }, () => {
    const p = keyFile(HEX20);
    chownSync(p, 4242, 4242);
    throwsKey(() => loadKeyFile(p, 'aes-gcm-128'), /owned by uid 4242, but iiptran runs as uid 0/);
    chownSync(p, 0, 0);
    assert.ok(loadKeyFile(p, 'aes-gcm-128'));
  });

  test('bad hex names the position but not the content', () => {
    const e = (() => { try { loadKeyFile(keyFile('# c\n' + HEX20.slice(0, 10) + 'zq' + HEX20.slice(12)), 'aes-gcm-128'); } catch (x) { return x; } })();
    assert.ok(e instanceof KeyFileError);
    assert.match(e.message, /line 2, column 11: not a hex digit/);
    assert.doesNotMatch(e.message, /zq|0001020304/);
    throwsKey(() => loadKeyFile(keyFile(HEX20 + 'a'), 'aes-gcm-128'), /odd number of hex digits \(41\)/);
    throwsKey(() => loadKeyFile(keyFile('0x'), 'aes-gcm-128'), /expected 20 bytes .* got 0 bytes/);
    throwsKey(() => loadKeyFile(keyFile(HEX20.slice(0, 8) + '0x' + HEX20.slice(8)), 'aes-gcm-128'), /line 1, column 10: not a hex digit/);
  });

  test('wrong length says expected and got, in bytes, and the suite', () => {
    throwsKey(() => loadKeyFile(keyFile(HEX20), 'aes-gcm-256'),
      /wrong length for aes-gcm-256: expected 36 bytes \(32-byte key \+ 4-byte salt, 72 hex digits\), got 20 bytes/);
    throwsKey(() => loadKeyFile(keyFile(HEX36), 'aes-gcm-128'), /wrong length for aes-gcm-128: expected 20 bytes .*got 36 bytes/);
    throwsKey(() => loadKeyFile(keyFile(HEX36.slice(0, 64)), 'chacha20-poly1305'), /chacha20-poly1305: expected 36 bytes .*got 32 bytes/);
  });

  test('parseKeyMaterial works on strings and Buffers', () => {
    const k = parseKeyMaterial(Buffer.from(HEX20), 'aes-gcm-128');
    assert.equal(k.salt.toString('hex'), 'b0b1b2b3');
    assert.deepEqual(parseKeyMaterial(HEX20, 'aes-gcm-128'), k);
  });

  test('generateKeyHex gives the right length and fresh randomness', () => {
    for (const suite of Object.keys(KEY_SIZES) as Suite[]) {
      const h = generateKeyHex(suite);
      const s = KEY_SIZES[suite];
      assert.match(h, new RegExp(`^[0-9a-f]{${2 * (s.key + s.salt)}}$`));
      assert.notEqual(h, generateKeyHex(suite));
      assert.ok(parseKeyMaterial(h, suite));
    }
  });

  test('writeKeyFile creates a 0600 file that loadKeyFile accepts, and leaves no temp files', () => {
    const sub = mkdtempSync(join(dir, 'w-'));
    const p = join(sub, 'a-to-b.key');
    const old = process.umask(0o000); // the worst case: nothing masked
    try {
      writeKeyFile(p, 'chacha20-poly1305');
    } finally {
      process.umask(old);
    }
    assert.equal(statSync(p).mode & 0o777, 0o600);
    const k = loadKeyFile(p, 'chacha20-poly1305');
    assert.equal(k.key.length, 32);
    assert.equal(k.salt.length, 4);
    assert.match(readFileSync(p, 'utf8'), /^# iiptran chacha20-poly1305 key\|\|salt/);
    assert.deepEqual(readdirSync(sub), ['a-to-b.key']);
  });

  test('writeKeyFile with given hex (both ends of an SA share one key)', () => {
    const a = join(dir, 'shared-a.key');
    const b = join(dir, 'shared-b.key');
    writeKeyFile(a, 'aes-gcm-128', { hex: HEX20 });
    writeKeyFile(b, 'aes-gcm-128', { hex: '0x' + HEX20.toUpperCase() });
    assert.deepEqual(loadKeyFile(a, 'aes-gcm-128'), loadKeyFile(b, 'aes-gcm-128'));
    throwsKey(() => writeKeyFile(join(dir, 'bad.key'), 'aes-gcm-256', { hex: HEX20 }), /wrong length for aes-gcm-256/);
  });

  test('writeKeyFile refuses to overwrite unless asked', () => {
    const sub = mkdtempSync(join(dir, 'o-'));
    const p = join(sub, 'k.key');
    writeKeyFile(p, 'aes-gcm-128', { hex: HEX20 });
    throwsKey(() => writeKeyFile(p, 'aes-gcm-128'), /already exists; refusing to overwrite/);
    assert.equal(loadKeyFile(p, 'aes-gcm-128').salt.toString('hex'), 'b0b1b2b3');
    writeKeyFile(p, 'aes-gcm-256', { overwrite: true });
    assert.equal(loadKeyFile(p, 'aes-gcm-256').key.length, 32);
    assert.equal(statSync(p).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(sub), ['k.key']);
  });

  test('writeKeyFile into a missing directory', () => {
    throwsKey(() => writeKeyFile(join(dir, 'no', 'such', 'k.key'), 'aes-gcm-128'), /directory .* does not exist/);
  });
});
