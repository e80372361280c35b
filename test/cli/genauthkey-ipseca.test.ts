// `iiptran genauthkey --ipseca NAME`, run as a user runs it: the record it prints carries the
// SHA-256 (or SHA-512, or whole SPKI) that openssl computes for the same public key file, its
// RFC 3597 line loads in ldns (ldns-read-zone) unchanged, and both of its forms parse to the
// record that matches the key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { judgeIpseca } from '../../src/dns/ipseca.js';
import { parseRR } from '../../src/wire/dns/parse-text.js';
import { REPO_ROOT } from '../../src/lab/pair-lab.js';

const BIN = path.join(REPO_ROOT, 'bin', 'iiptran.js');
const has = (p: string) => spawnSync('sh', ['-c', `command -v ${p}`]).status === 0;

function iiptran(args: string[], cwd: string) {
  return spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', timeout: 20000 });
}

test('genauthkey --ipseca prints the record of the new key, as openssl hashes it and ldns loads it', { skip: !has('openssl') && 'no openssl' }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iit-gak-'));
  try {
    const r = iiptran(['genauthkey', '--type', 'ecdsa-p256', '-o', 'gw1.key', '--ipseca', 'GW1.site-a.test'], dir);
    assert.equal(r.status, 0, r.stderr);
    const der = execFileSync('openssl', ['pkey', '-pubin', '-in', path.join(dir, 'gw1.key.pub'), '-outform', 'DER']);
    const sha = execFileSync('openssl', ['dgst', '-sha256', '-binary'], { input: der }).toString('hex');
    const lines = r.stdout.trim().split('\n');
    assert.deepEqual(lines, [
      `gw1.key.pub SHA-256 ${sha}`,
      '; IPSECA for gateway GW1.site-a.test (draft-osterweil-dane-ipsec): usage 3 (DANE-EE), selector 1 (SubjectPublicKeyInfo), matching type 1 (SHA2-256)',
      `; _500.gw1.site-a.test. IN IPSECA 3 1 1 ${sha.toUpperCase()}`,
      `_500.gw1.site-a.test. IN TYPE65347 \\# 35 030101${sha}`,
    ]);
    const typed = parseRR(lines[2]!.slice(2));
    assert.deepEqual(parseRR(lines[3]!), typed);
    const secure = { verdict: 'secure' as const, reason: null, status: 'answer' as const, rrset: [typed], ttl: 300 };
    assert.equal(judgeIpseca('_500.gw1.site-a.test.', secure, der).outcome, 'use');
    if (has('ldns-read-zone')) {
      fs.writeFileSync(path.join(dir, 'zone'), `$ORIGIN site-a.test.\n$TTL 300\n@ SOA ns hostmaster 1 3600 600 86400 300\n${lines[3]}\n`);
      const z = execFileSync('ldns-read-zone', [path.join(dir, 'zone')], { encoding: 'utf8' });
      assert.match(z, new RegExp(`^_500\\.gw1\\.site-a\\.test\\.\\t300\\tIN\\tTYPE65347\\t\\\\# 35 030101${sha}$`, 'm'));
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('genauthkey --from an existing key: SHA-512 and whole-SPKI records, an address gateway, JSON, and usage errors', { skip: !has('openssl') && 'no openssl' }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iit-gak-'));
  try {
    execFileSync('openssl', ['genpkey', '-algorithm', 'ed25519', '-out', path.join(dir, 'k.pem')]);
    fs.chmodSync(path.join(dir, 'k.pem'), 0o600);
    execFileSync('openssl', ['pkey', '-in', path.join(dir, 'k.pem'), '-pubout', '-out', path.join(dir, 'k.pub')]);
    const der = execFileSync('openssl', ['pkey', '-pubin', '-in', path.join(dir, 'k.pub'), '-outform', 'DER']);
    const sha512 = execFileSync('openssl', ['dgst', '-sha512', '-binary'], { input: der }).toString('hex');
    const a = iiptran(['genauthkey', '--from', 'k.pub', '--ipseca', '10.200.1.1', '--ipseca-matching', '2'], dir);
    assert.equal(a.status, 0, a.stderr);
    assert.match(a.stdout, new RegExp(`^_500\\.1\\.1\\.200\\.10\\.in-addr\\.arpa\\. IN TYPE65347 \\\\# 67 030102${sha512}$`, 'm'));
    // The private key gives the same record as its public half.
    const j = iiptran(['genauthkey', '--from', 'k.pem', '--ipseca', 'gw.site-a.test', '--ipseca-matching', '0', '--json'], dir);
    assert.equal(j.status, 0, j.stderr);
    const out = JSON.parse(j.stdout) as { ipseca: { owner: string; matchingType: number; data: string; generic: string } };
    assert.deepEqual([out.ipseca.owner, out.ipseca.matchingType, out.ipseca.data], ['_500.gw.site-a.test.', 0, der.toString('hex')]);
    assert.equal(fs.readdirSync(dir).sort().join(' '), 'k.pem k.pub', '--from writes nothing');
    for (const [args, msg] of [
      [['genauthkey', '--ipseca', 'gw.test'], /give --out FILE for a new key pair, or --from FILE/],
      [['genauthkey', '--from', 'k.pub', '-o', 'x.key'], /--from reads an existing key; it cannot be combined with --out/],
      [['genauthkey', '--from', 'k.pub', '--ipseca', 'a..b'], /--ipseca: "a\.\.b" is not a gateway name or address: .*empty label/],
      [['genauthkey', '--from', 'k.pub', '--ipseca-matching', '1'], /--ipseca-matching needs --ipseca NAME/],
      [['genauthkey', '--from', 'k.pub', '--ipseca', 'gw.test', '--ipseca-matching', '3'], /Invalid values:[\s\S]*ipseca-matching/],
    ] as const) {
      const e = iiptran([...args], dir);
      assert.equal(e.status, 2, `${args.join(' ')}: ${e.stderr}`);
      assert.match(e.stderr, msg);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
