// Raw public key authentication (RFC 7670) and child_mode tunnel-any between two engines over
// the in-memory wire: success with Ed25519 and P-256, a wrong key failing on both sides, the
// RFC 7427 / method 9 choice, the key-verifier hook, and the tunnel-any selectors on the wire.

import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EnginePair } from './engine-harness.js';
import {
  checkPubkeyPeer, pubkeyCredentials, signatureMethod, type PubkeyAuth, type PeerKeyVerifier,
} from '../../src/ike/auth-pubkey.js';
import { loadAuthPrivateKey, loadPeerPublicKey, writeAuthKeyPair } from '../../src/control/credentials.js';
import {
  AUTH_DIGITAL_SIGNATURE, AUTH_ECDSA_SHA256_P256, exportSpki, generateAuthKey, type AuthKeyType,
} from '../../src/ike/crypto/auth.js';
import { parseIdentity, type IkeIdentity } from '../../src/ike/identity.js';
import { checkChildAnswer, checkChildRequest, childTsPayloads, coversAnyTs, isAnyTs } from '../../src/ike/tunnel-any.js';
import { HashAlgorithm, NotifyType, PayloadType, notify, type AuthPayload, type CertPayload, type PayloadRepr, type TsPayload } from '../../src/wire/ike/index.js';
import { KeyFileError } from '../../src/errors.js';

let pair: EnginePair | null = null;
afterEach(() => {
  pair?.stop();
  pair = null;
});

interface Keys { priv: KeyObject; spki: Buffer }
function keys(type: AuthKeyType): Keys {
  const k = generateAuthKey(type);
  return { priv: k.privateKey, spki: exportSpki(k.publicKey) };
}
function auth(me: Keys, peer: Keys | null, verifyPeerKey?: PeerKeyVerifier): PubkeyAuth {
  return { privateKey: me.priv, ourSpki: me.spki, peerSpki: peer?.spki ?? null, ...(verifyPeerKey === undefined ? {} : { verifyPeerKey }) };
}
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function established(p: EnginePair): Promise<void> {
  return p.until(() => p.state(p.a) === 'ESTABLISHED' && p.state(p.b) === 'ESTABLISHED' && p.a.installed.length > 0 && p.b.installed.length > 0);
}

for (const type of ['ed25519', 'ecdsa-p256'] as const) {
  test(`pubkey ${type}: both ESTABLISHED, peer keys exposed, CHILD_SA keys mirrored`, async () => {
    const [ka, kb] = [keys(type), keys(type)];
    const p = (pair = new EnginePair({ cfgA: { pubkey: auth(ka, kb) }, cfgB: { pubkey: auth(kb, ka) } }));
    p.start();
    await established(p);
    const [ca, cb] = [p.a.installed[0]!, p.b.installed[0]!];
    assert.deepEqual(ca.keyIn, cb.keyOut);
    assert.deepEqual(ca.keyOut, cb.keyIn);
    const va = p.a.engine.view()[0]!.sas[0]!;
    const vb = p.b.engine.view()[0]!.sas[0]!;
    // Each side sees the other's key, as it came in the CERT payload, signed with method 14
    // (both announced SIGNATURE_HASH_ALGORITHMS).
    assert.deepEqual(va.peerPublicKey, { type, spki: kb.spki.toString('base64'), sha256: sha(kb.spki), source: 'cert', ipseca: null, authMethod: AUTH_DIGITAL_SIGNATURE });
    assert.deepEqual(vb.peerPublicKey, { type, spki: ka.spki.toString('base64'), sha256: sha(ka.spki), source: 'cert', ipseca: null, authMethod: AUTH_DIGITAL_SIGNATURE });
    assert.equal(p.a.engine.sa('vl-b')!.peerKey!.sha256, sha(kb.spki), 'exposed on the IKE SA object too');
    // IKE_SA_INIT is clear text: both carry SIGNATURE_HASH_ALGORITHMS, the responder a CERTREQ.
    const init = (from: 'a' | 'b') => p.wire.find((f) => f.from === from && f.d.data[18] === 34)!.d.data;
    const n16431 = Buffer.from([0x40, 0x2f]);
    assert.ok(init('a').includes(n16431) && init('b').includes(n16431));
  });
}

for (const [who, label] of [['b', 'responder'], ['a', 'initiator']] as const) {
  test(`pubkey: the ${label} holds a different key for its peer: AUTHENTICATION_FAILED on both sides`, async () => {
    const [ka, kb, stranger] = [keys('ed25519'), keys('ed25519'), keys('ed25519')];
    const p = (pair = new EnginePair({
      cfgA: { pubkey: auth(ka, who === 'a' ? stranger : kb) },
      cfgB: { pubkey: auth(kb, who === 'b' ? stranger : ka) },
    }));
    p.start();
    await p.until(() => p.lastError(p.a) !== '' && p.lastError(p.b) !== '');
    const fp = sha(who === 'b' ? ka.spki : kb.spki).slice(0, 16);
    if (who === 'b') {
      assert.match(p.lastError(p.b), new RegExp(`IKE_AUTH from 192\\.0\\.2\\.1: peer presented public key SHA-256 ${fp}…, but peer_public_key is SHA-256 ${sha(stranger.spki).slice(0, 16)}… .*answered AUTHENTICATION_FAILED`));
      assert.match(p.lastError(p.a), /peer says AUTHENTICATION_FAILED \(does its peer key match our private_key\?/);
    } else {
      assert.match(p.lastError(p.a), new RegExp(`IKE_AUTH from 192\\.0\\.2\\.2: peer presented public key SHA-256 ${fp}…, but peer_public_key is`));
      // The initiator tells the responder in an INFORMATIONAL, which ends the SA there too.
      assert.match(p.lastError(p.b), /says AUTHENTICATION_FAILED after IKE_AUTH \(it does not accept our public key\)/);
    }
    assert.equal(p.a.installed.length - p.a.removed.length, 0);
    assert.equal(p.b.installed.length - p.b.removed.length, 0);
  });
}

test('pubkey: a peer that presents the right key but signs with another private key fails', async () => {
  const [ka, kb, thief] = [keys('ecdsa-p256'), keys('ecdsa-p256'), keys('ecdsa-p256')];
  // A claims kb's public key for itself (in CERT) but only holds `thief`'s private key.
  const p = (pair = new EnginePair({ cfgA: { pubkey: { privateKey: thief.priv, ourSpki: ka.spki, peerSpki: kb.spki } }, cfgB: { pubkey: auth(kb, ka) } }));
  p.start();
  await p.until(() => p.lastError(p.b) !== '');
  assert.match(p.lastError(p.b), new RegExp(`AUTH signature \\(method 14\\) does not verify with the public key it presented, SHA-256 ${sha(ka.spki).slice(0, 16)}… \\(it does not hold that key's private half\\); answered AUTHENTICATION_FAILED`));
});

test('pubkey against PSK: refused, with a message naming the methods', async () => {
  const [ka, kb] = [keys('ed25519'), keys('ed25519')];
  const p = (pair = new EnginePair({ cfgB: { pubkey: auth(kb, ka) } }));
  p.start();
  await p.until(() => p.lastError(p.b) !== '');
  assert.match(p.lastError(p.b), /peer authenticates with method 2; this vlink uses raw public keys/);
});

test('pubkey: the verifier hook decides, and sees the presented SPKI and the identity', async () => {
  const [ka, kb] = [keys('ed25519'), keys('ecdsa-p256')];
  const seen: [string, string][] = [];
  const allow: PeerKeyVerifier = (spki: Buffer, id: IkeIdentity) => {
    seen.push([sha(spki), id.text]);
    return spki.equals(ka.spki);
  };
  // B has no configured key for A at all: only the hook (think IPSECA) vouches for it.
  const p = (pair = new EnginePair({ cfgA: { pubkey: auth(ka, kb) }, cfgB: { pubkey: auth(kb, null, allow) } }));
  p.start();
  await established(p);
  assert.deepEqual(seen, [[sha(ka.spki), '192.0.2.1']]);
  assert.equal(p.b.engine.view()[0]!.sas[0]!.peerPublicKey!.source, 'cert');
});

test('P-256 signs with method 9 for a peer that did not announce RFC 7427, method 14 otherwise; both verify', async () => {
  const [me, peer] = [keys('ecdsa-p256'), keys('ecdsa-p256')];
  const id = parseIdentity('192.0.2.1') as IkeIdentity;
  const octets = Buffer.from('the signed octets of some IKE_AUTH');
  for (const [hashes, method] of [[null, AUTH_ECDSA_SHA256_P256], [[HashAlgorithm.SHA2_256], AUTH_DIGITAL_SIGNATURE], [[HashAlgorithm.IDENTITY], AUTH_ECDSA_SHA256_P256]] as const) {
    const signer = { cfg: { pubkey: auth(me, peer), remoteId: id }, peerSigHashes: hashes === null ? null : [...hashes], peerKey: null, role: 'initiator' as const, remote: { addr: '192.0.2.2' } };
    assert.equal(signatureMethod(signer, me.priv), method);
    const ps = pubkeyCredentials(signer, octets);
    // Initiator: CERT(15, our SPKI), CERTREQ(15), AUTH.
    assert.deepEqual(ps.map((x) => x.type), [PayloadType.CERT, PayloadType.CERTREQ, PayloadType.AUTH]);
    assert.deepEqual((ps[0] as CertPayload).data, me.spki);
    const a = ps[2] as AuthPayload;
    assert.equal(a.method, method);
    const verifier = { cfg: { pubkey: auth(peer, me), remoteId: id }, peerSigHashes: null, peerKey: null, remote: { addr: '192.0.2.1' } };
    assert.equal(await checkPubkeyPeer(verifier, a, ps, octets), null);
    assert.equal(verifier.peerKey!['authMethod'], method);
    // Without a CERT payload the configured key is used.
    const v2 = { cfg: { pubkey: auth(peer, me), remoteId: id }, peerSigHashes: null, peerKey: null, remote: { addr: '192.0.2.1' } };
    assert.equal(await checkPubkeyPeer(v2, a, [a], octets), null);
    assert.equal(v2.peerKey!['source'], 'config');
    assert.match((await checkPubkeyPeer(v2, a, [a], Buffer.from('other octets')))!, /does not verify/);
  }
  const ed = keys('ed25519');
  assert.equal(signatureMethod({ cfg: { pubkey: auth(ed, peer), remoteId: id }, peerSigHashes: null, peerKey: null, remote: { addr: '192.0.2.1' } }, ed.priv), AUTH_DIGITAL_SIGNATURE, 'Ed25519 has only method 14');
  const v = { cfg: { pubkey: auth(peer, me), remoteId: id }, peerSigHashes: null, peerKey: null, remote: { addr: '192.0.2.1' } };
  const x509: CertPayload = { type: PayloadType.CERT, encoding: 4, data: Buffer.from([0x30, 0]) };
  assert.match((await checkPubkeyPeer(v, { type: PayloadType.AUTH, method: 14, data: Buffer.alloc(70) }, [x509], octets))!, /certificate \(encoding 4\) instead of a raw public key/);
  const junk: CertPayload = { type: PayloadType.CERT, encoding: 15, data: Buffer.from('not a key') };
  assert.match((await checkPubkeyPeer(v, { type: PayloadType.AUTH, method: 14, data: Buffer.alloc(70) }, [junk], octets))!, /not an Ed25519 or P-256 SubjectPublicKeyInfo/);
});

test('key files: genauthkey output loads; the private key gets the key-file permission checks; junk is refused', () => {
  const dir = mkdtempSync(join(tmpdir(), 'iip-pk-'));
  try {
    for (const type of ['ed25519', 'ecdsa-p256'] as const) {
      const f = writeAuthKeyPair(join(dir, `${type}.key`), type);
      assert.equal(statSync(f.privatePath).mode & 0o777, 0o600);
      const priv = loadAuthPrivateKey(f.privatePath);
      const pub = loadPeerPublicKey(f.publicPath);
      assert.deepEqual(exportSpki(priv), pub);
      assert.equal(f.sha256, sha(pub));
      // DER SPKI works as well as PEM.
      writeFileSync(join(dir, `${type}.der`), pub);
      assert.deepEqual(loadPeerPublicKey(join(dir, `${type}.der`)), pub);
      assert.throws(() => writeAuthKeyPair(f.privatePath, type), /already exists/);
      chmodSync(f.privatePath, 0o640);
      assert.throws(() => loadAuthPrivateKey(f.privatePath), (e: unknown) => e instanceof KeyFileError && /mode 0640 is too open; run chmod 600/.test(e.message));
      // A private key where the peer's public key belongs is a mistake, not a key.
      assert.throws(() => loadPeerPublicKey(f.privatePath), /is not an Ed25519 or ECDSA P-256 public key/);
    }
    writeFileSync(join(dir, 'junk'), 'hello\n', { mode: 0o600 });
    assert.throws(() => loadAuthPrivateKey(join(dir, 'junk')), /is not an Ed25519 or ECDSA P-256 private key/);
    assert.throws(() => loadPeerPublicKey(join(dir, 'missing.pub')), /does not exist; check keying.peer_public_key/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('tunnel-any between two engines: no USE_TRANSPORT_MODE, 0.0.0.0/0 both ways, CHILD_SA installed', async () => {
  const p = (pair = new EnginePair({ cfgA: { childMode: 'tunnel-any' }, cfgB: { childMode: 'tunnel-any' } }));
  p.start();
  await established(p);
  assert.equal(p.a.engine.view()[0]!.sas[0]!.children[0]!.mode, 'tunnel-any');
  assert.equal(p.b.engine.view()[0]!.sas[0]!.children[0]!.mode, 'tunnel-any');
  assert.deepEqual(p.a.installed[0]!.keyIn, p.b.installed[0]!.keyOut);
});

test('tunnel-any and transport do not mix: the responder refuses the CHILD_SA, the IKE SA stays', async () => {
  for (const [a, b, why] of [
    ['tunnel-any', 'transport', /peer asked for a tunnel-mode CHILD_SA.*child_mode tunnel-any here/],
    ['transport', 'tunnel-any', /peer asked for transport mode; this vlink has child_mode tunnel-any/],
  ] as const) {
    const p = (pair = new EnginePair({ cfgA: { childMode: a }, cfgB: { childMode: b } }));
    p.start();
    await p.until(() => p.state(p.a) === 'ESTABLISHED' && p.state(p.b) === 'ESTABLISHED');
    await p.until(() => p.b.logs.some((l) => why.test(l.msg)));
    assert.equal(p.a.installed.length + p.b.installed.length, 0);
    p.stop();
    pair = null;
  }
});

test('tunnel-any selectors: exact 0/0 any protocol offered and required; wider offers narrowed, narrower refused', () => {
  const cfg = { local: '192.0.2.1', peer: '192.0.2.2', childMode: 'tunnel-any' as const };
  const req = childTsPayloads(cfg, 'requester');
  assert.deepEqual(req.mode, []);
  for (const ts of [req.tsi, req.tsr]) {
    assert.deepEqual(ts.selectors, [{ tsType: 7, ipProtocol: 0, startPort: 0, endPort: 65535, startAddress: 0, endAddress: 0xffffffff }]);
    assert.ok(isAnyTs(ts));
  }
  const tr = childTsPayloads({ local: cfg.local, peer: cfg.peer }, 'requester');
  assert.equal((tr.mode[0] as { notifyType: number }).notifyType, NotifyType.USE_TRANSPORT_MODE);
  assert.ok(!isAnyTs(tr.tsi));
  const v6any = { tsType: 8 as const, ipProtocol: 0, startPort: 0, endPort: 65535, startAddress: Buffer.alloc(16), endAddress: Buffer.alloc(16, 0xff) };
  const both: TsPayload = { type: PayloadType.TSi, selectors: [v6any, ...req.tsi.selectors] };
  assert.ok(coversAnyTs(both) && !isAnyTs(both), 'charon offering 0.0.0.0/0 and ::/0 is acceptable, and narrowed');
  assert.equal(checkChildRequest(cfg, [], both, { ...both, type: PayloadType.TSr }), null);
  const subnet: TsPayload = { type: PayloadType.TSi, selectors: [{ tsType: 7, ipProtocol: 0, startPort: 0, endPort: 65535, startAddress: 0x0a000000, endAddress: 0x0a0000ff }] };
  assert.equal(checkChildRequest(cfg, [], subnet, req.tsr)!.refuse, NotifyType.TS_UNACCEPTABLE);
  assert.equal(checkChildRequest(cfg, [notify(NotifyType.USE_TRANSPORT_MODE)], req.tsi, req.tsr)!.refuse, NotifyType.NO_PROPOSAL_CHOSEN);
  const icmpOnly: TsPayload = { type: PayloadType.TSr, selectors: [{ ...(req.tsr.selectors[0] as object), ipProtocol: 1 } as TsPayload['selectors'][number]] };
  assert.match(checkChildAnswer(cfg, [] as PayloadRepr[], req.tsi, icmpOnly)!, /narrowed the traffic selectors below 0\.0\.0\.0\/0/);
  assert.match(checkChildAnswer(cfg, [notify(NotifyType.USE_TRANSPORT_MODE)], req.tsi, req.tsr)!, /USE_TRANSPORT_MODE to a tunnel-mode request/);
  assert.equal(checkChildAnswer(cfg, [], req.tsi, req.tsr), null);
});
