// Proposal strings and negotiation, without any exchange around them.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseEspProposal, parseIkeProposal, parseIkeProposals, parseEspProposals, DEFAULT_ESP_PROPOSALS, DEFAULT_IKE_PROPOSALS } from '../../src/ike/proposals.js';
import { checkEspAnswer, checkIkeAnswer, espAnswer, espOffer, ikeOffer, selectEsp, selectIke } from '../../src/ike/negotiate.js';
import { ikeSuiteName } from '../../src/ike/crypto/suites.js';
import { PayloadType, ProtocolId, TransformType, type SaPayload } from '../../src/wire/ike/index.js';
import { parseIdentity } from '../../src/ike/identity.js';
import { noProposalDetail, offerText } from '../../src/ike/proposal-text.js';

test('IKE proposal grammar', () => {
  const p = parseIkeProposal('aes256gcm16-prfsha256-x25519');
  assert.ok(typeof p !== 'string');
  assert.deepEqual(p.encrs, [{ id: 20, keyLenBits: 256, aead: true }]);
  assert.deepEqual([p.prfs, p.integs, p.dhs], [[5], [], [31]]);
  const c = parseIkeProposal('AES128-sha256-sha384-ecp256-curve25519');
  assert.ok(typeof c !== 'string');
  assert.deepEqual([c.integs, c.prfs, c.dhs], [[12, 13], [5, 6], [19, 31]], 'PRFs follow the integrity algorithms');
  for (const [text, why] of [
    ['', /empty/],
    ['aes256gcm16-x25519', /AEAD proposal needs a PRF/],
    ['aes256-x25519', /needs an integrity algorithm/],
    ['aes256gcm16-sha256-prfsha256-x25519', /drop the integrity/],
    ['aes256gcm16-aes256-sha256-prfsha256-x25519', /mixes AEAD and non-AEAD/],
    ['aes256gcm16-prfsha256', /no Diffie-Hellman group/],
    ['3des-sha1-modp1024', /unknown algorithm "3des" \(known: cipher aes128\|/],
    ['prfsha256-x25519', /no cipher/],
  ] as const) {
    const r = parseIkeProposal(text);
    assert.equal(typeof r, 'string', text);
    assert.match(r as string, why, text);
  }
  assert.doesNotThrow(() => parseIkeProposals(DEFAULT_IKE_PROPOSALS));
});

test('ESP proposal grammar', () => {
  const p = parseEspProposal('aes256gcm16-aes128gcm16-esn-noesn');
  assert.ok(typeof p !== 'string');
  assert.deepEqual(p.suites, ['aes-gcm-256', 'aes-gcm-128']);
  assert.deepEqual(p.esns, [1, 0]);
  const d = parseEspProposal('chacha20poly1305');
  assert.ok(typeof d !== 'string');
  assert.deepEqual(d.esns, [0], 'no ESN unless asked');
  assert.match(parseEspProposal('aes256gcm16-x25519') as string, /PFS groups apply to CREATE_CHILD_SA/);
  assert.match(parseEspProposal('aes256-sha256') as string, /only does AEAD suites/);
  assert.doesNotThrow(() => parseEspProposals(DEFAULT_ESP_PROPOSALS));
});

test('identities', () => {
  assert.deepEqual(parseIdentity('192.0.2.7'), { idType: 1, data: Buffer.from([192, 0, 2, 7]), text: '192.0.2.7' });
  assert.equal((parseIdentity('vpn.example.org') as { idType: number }).idType, 2);
  assert.equal((parseIdentity('@10.1.1.1') as { idType: number }).idType, 2, '@ forces FQDN');
  assert.equal((parseIdentity('ops@example.org') as { idType: number }).idType, 3);
  assert.match(parseIdentity('has space') as string, /printable ASCII/);
});

const ikeSpecs = (...s: string[]) => parseIkeProposals(s);
const espSpecs = (...s: string[]) => parseEspProposals(s);

test('IKE selection: responder preference, KE group preferred, INVALID_KE when needed', () => {
  const offer = ikeOffer(ikeSpecs('aes128gcm16-prfsha256-x25519', 'aes256-sha384-ecp256'));
  // Our first preference is only offered with ecp256, but the KE is x25519 and our second
  // preference matches with it: taking that saves a round trip.
  const r = selectIke(offer, ikeSpecs('aes256-sha384-ecp256-x25519', 'aes128gcm16-prfsha256-x25519'), 31);
  assert.ok(r.kind === 'ok' && ikeSuiteName(r.choice.suite) === 'ENCR_AES_GCM_16-128/PRF_HMAC_SHA2_256/CURVE_25519');
  assert.deepEqual(selectIke(ikeOffer(ikeSpecs('aes256gcm16-prfsha256-x25519-ecp256')), ikeSpecs('aes256gcm16-prfsha256-ecp256'), 31), { kind: 'invalid-ke', group: 19 });
  const r2 = selectIke(offer, ikeSpecs('aes256-sha384-ecp256-x25519', 'aes128gcm16-prfsha256-x25519'), 19);
  assert.equal(r2.kind, 'ok');
  if (r2.kind === 'ok') {
    assert.equal(ikeSuiteName(r2.choice.suite), 'ENCR_AES_CBC-256/AUTH_HMAC_SHA2_384_192/PRF_HMAC_SHA2_384/ECP_256');
    assert.equal(r2.choice.proposal.number, 2, 'the answer carries the number of the proposal it came from');
    const back = checkIkeAnswer({ type: PayloadType.SA, proposals: [r2.choice.proposal] }, ikeSpecs('aes128gcm16-prfsha256-x25519', 'aes256-sha384-ecp256'));
    assert.equal(typeof back, 'object');
  }
  assert.deepEqual(selectIke(offer, ikeSpecs('chacha20poly1305-prfsha256-x25519'), 31), { kind: 'no-proposal' });
  // A KE group both sides accept beats the responder's first group.
  const r3 = selectIke(ikeOffer(ikeSpecs('aes128gcm16-prfsha256-x25519-ecp256')), ikeSpecs('aes128gcm16-prfsha256-ecp256-x25519'), 31);
  assert.ok(r3.kind === 'ok' && r3.choice.suite.dh.id === 31);
});

test('IKE answer checks: a responder cannot pick what we did not offer', () => {
  const ours = ikeSpecs('aes128gcm16-prfsha256-x25519');
  const bad = (transforms: { type: number; id: number; keyLength?: number }[], number = 1): SaPayload => ({
    type: PayloadType.SA, proposals: [{ number, protocolId: ProtocolId.IKE, spi: Buffer.alloc(0), transforms }],
  });
  const good = [{ type: 1, id: 20, keyLength: 128 }, { type: 2, id: 5 }, { type: 4, id: 31 }];
  assert.equal(typeof checkIkeAnswer(bad(good), ours), 'object');
  assert.match(checkIkeAnswer(bad(good, 2), ours) as string, /did not offer/);
  assert.match(checkIkeAnswer(bad([{ type: 1, id: 20, keyLength: 256 }, { type: 2, id: 5 }, { type: 4, id: 31 }]), ours) as string, /did not offer/);
  assert.match(checkIkeAnswer(bad([...good, { type: 4, id: 19 }]), ours) as string, /exactly one/);
  assert.match(checkIkeAnswer(bad([{ type: 1, id: 20, keyLength: 128 }, { type: 2, id: 5 }]), ours) as string, /exactly one/);
});

test('ESP selection and answer round trip', () => {
  const offer = espOffer(espSpecs('aes128gcm16', 'chacha20poly1305-esn'), 0x1234);
  assert.equal(offer.proposals[0]!.spi.readUInt32BE(0), 0x1234);
  const c = selectEsp(offer, espSpecs('chacha20poly1305-esn-noesn', 'aes128gcm16'));
  assert.ok(c !== null);
  assert.deepEqual([c.suite, c.esn, c.peerSpi, c.number], ['chacha20-poly1305', true, 0x1234, 2]);
  const ans = espAnswer(c, 0x5678);
  const back = checkEspAnswer(ans, espSpecs('aes128gcm16', 'chacha20poly1305-esn'));
  assert.ok(typeof back !== 'string');
  assert.deepEqual([back.suite, back.esn, back.peerSpi], ['chacha20-poly1305', true, 0x5678]);
  assert.equal(selectEsp(offer, espSpecs('aes256gcm16')), null);
  // Non-AEAD ESP offers (charon's aes256-sha256) are skipped, not misread.
  const cbc: SaPayload = { type: PayloadType.SA, proposals: [{ number: 1, protocolId: ProtocolId.ESP, spi: Buffer.from([0, 0, 0x10, 0]), transforms: [
    { type: TransformType.ENCR, id: 12, keyLength: 256 }, { type: TransformType.INTEG, id: 12 }, { type: TransformType.ESN, id: 0 },
  ] }] };
  assert.equal(selectEsp(cbc, espSpecs('aes256gcm16')), null);
});

test('what a peer offered, in proposal-string notation: known and unknown algorithms, other protocols, a cap', () => {
  const prop = (protocolId: number, transforms: { type: number; id: number; keyLength?: number }[], number = 1) => ({ number, protocolId, spi: Buffer.alloc(0), transforms });
  const offer: SaPayload = {
    type: PayloadType.SA,
    proposals: [
      prop(ProtocolId.IKE, [
        { type: TransformType.DH, id: 14 }, { type: TransformType.PRF, id: 2 }, { type: TransformType.ENCR, id: 3 }, { type: TransformType.INTEG, id: 2 },
      ]),
      prop(ProtocolId.IKE, [
        { type: TransformType.ENCR, id: 20, keyLength: 256 }, { type: TransformType.ENCR, id: 28 }, { type: TransformType.PRF, id: 7 },
        { type: TransformType.DH, id: 31 }, { type: TransformType.DH, id: 21 }, { type: TransformType.DH, id: 4242 },
      ], 2),
      prop(ProtocolId.AH, [{ type: TransformType.INTEG, id: 12 }, { type: TransformType.ESN, id: 0 }], 3),
      prop(ProtocolId.IKE, [{ type: TransformType.ENCR, id: 99, keyLength: 128 }, { type: 9, id: 1 }], 4),
    ],
  };
  assert.equal(offerText(offer, ProtocolId.IKE),
    '3des-sha1-prfsha1-modp2048, aes256gcm16-chacha20poly1305-prfsha512-x25519-ecp521-dh4242, ah:sha256-noesn, encr99_128-type9-1');
  const esp: SaPayload = { type: PayloadType.SA, proposals: [prop(ProtocolId.ESP, [{ type: TransformType.ENCR, id: 12, keyLength: 128 }, { type: TransformType.INTEG, id: 12 }, { type: TransformType.ESN, id: 1 }])] };
  assert.equal(noProposalDetail(esp, ProtocolId.ESP, parseEspProposals(['aes256gcm16', 'chacha20poly1305'])), 'peer offered aes128-sha256-esn; ours: aes256gcm16, chacha20poly1305');
  // An offer is network input: a huge one is not copied into the log whole.
  const many: SaPayload = { type: PayloadType.SA, proposals: Array.from({ length: 50 }, (_, i) => prop(ProtocolId.IKE, [{ type: TransformType.ENCR, id: 3 }], i + 1)) };
  assert.match(offerText(many, ProtocolId.IKE), /^(3des, ){8}\.\.\. \(50 proposals\)$/);
  // What we send ourselves reads back as our own config strings.
  const ours = parseIkeProposals(['aes256gcm16-prfsha256-x25519', 'aes128-sha256-prfsha256-ecp256']);
  assert.equal(offerText(ikeOffer(ours), ProtocolId.IKE), 'aes256gcm16-prfsha256-x25519, aes128-sha256-prfsha256-ecp256');
});
