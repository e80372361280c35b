// IKE_AUTH (RFC 7296 §1.2, §2.15): identities, PSK or raw public key authentication
// (auth-pubkey.ts adds CERT and CERTREQ), and the vlink's CHILD_SA (its mode and selectors per
// child_mode: tunnel-any.ts; USE_TRANSPORT_MODE only in transport mode).
//
//   HDR, SK {IDi, IDr, AUTH, N(INITIAL_CONTACT), N(USE_TRANSPORT_MODE), SAi2, TSi, TSr}  -->
//                                <--  HDR, SK {IDr, AUTH, N(USE_TRANSPORT_MODE), SAr2, TSi, TSr}
//                                <--  HDR, SK {IDr, AUTH, N(NO_PROPOSAL_CHOSEN | TS_UNACCEPTABLE)}
//                                <--  HDR, SK {N(AUTHENTICATION_FAILED)}
//
// A refused CHILD_SA does not undo an authenticated IKE SA (RFC 7296 §2.21.2); a failed
// authentication does. Checking the peer may wait on a lookup (authorise.ts), so both ends'
// handling of message 3 and 4 is asynchronous; the SA may be gone when the check returns.

import {
  ExchangeType, NotifyType, PayloadType, ProtocolId, idToString, notify, notifyName,
  type IdPayload, type PayloadRepr,
} from '../wire/ike/index.js';
import { pskAuth, signedOctets, AUTH_SHARED_KEY_MIC } from './crypto/auth.js';
import { childInstall } from './child.js';
import { errorNotify, find } from './payloads.js';
import { idBody, idPayload, sameIdentity } from './identity.js';
import type { IkeSa } from './ike-sa.js';
import { checkEspAnswer, espAnswer, espOffer, selectEsp } from './negotiate.js';
import type { ExchangeContext } from './context.js';
import type { ChildSaInstall } from './types.js';
import { natInstall, natTsCfg } from './nat.js';
import { pubkeyCredentials } from './auth-pubkey.js';
import { checkChildAnswer, checkChildRequest, childProtocols, childTsPayloads } from './tunnel-any.js';
import { authorisePeer, PSK_HINT, type AddressCheck } from './authorise.js';
import { noProposalDetail } from './proposal-text.js';
import { hex32 } from '../wire/hex.js';

/** AUTH, preceded by CERT (and CERTREQ) with raw public keys. */
function ourAuth(sa: IkeSa, id: IdPayload): PayloadRepr[] {
  const k = sa.keys!;
  const [msg, peerNonce, skP] = sa.role === 'initiator' ? [sa.initRequest, sa.nr, k.skPi] : [sa.initResponse, sa.ni, k.skPr];
  const octets = signedOctets(sa.suite!.prf.id, msg, peerNonce, skP, idBody(id));
  if (sa.cfg.pubkey !== undefined) return pubkeyCredentials(sa, octets);
  return [{ type: PayloadType.AUTH, method: AUTH_SHARED_KEY_MIC, data: pskAuth(sa.suite!.prf.id, sa.cfg.psk, octets) }];
}

function install(ctx: ExchangeContext, sa: IkeSa, c: ChildSaInstall): boolean {
  try {
    ctx.host.installChild(sa.cfg.vlink, natInstall(sa, c));
  } catch (e) {
    ctx.log.error({ vlink: sa.cfg.vlink, err: (e as Error).message }, 'could not install the CHILD_SA into the data plane');
    return false;
  }
  sa.children.push({ spiIn: c.spiIn, spiOut: c.spiOut, suite: c.suite, esn: c.esn, protocols: c.protocols ?? [4], createdAt: sa.clock.now() });
  ctx.keyLog({
    type: 'child', vlink: sa.cfg.vlink, spiIn: hex32(c.spiIn), spiOut: hex32(c.spiOut), suite: c.suite,
    keyIn: Buffer.concat([c.keyIn, c.saltIn]).toString('hex'), keyOut: Buffer.concat([c.keyOut, c.saltOut]).toString('hex'),
  });
  ctx.log.info(
    { vlink: sa.cfg.vlink, peer: sa.remote.addr, spiIn: hex32(c.spiIn), spiOut: hex32(c.spiOut), suite: c.suite, esn: c.esn, protocols: c.protocols },
    `CHILD_SA installed for ${sa.cfg.vlink}: in 0x${hex32(c.spiIn)}, out 0x${hex32(c.spiOut)}, ${c.suite}, protocols ${(c.protocols ?? [4]).join('+')}`,
  );
  return true;
}

function hostAddressCheck(ctx: ExchangeContext): AddressCheck | undefined {
  const h = ctx.host;
  return h.checkPeerAddress === undefined ? undefined : (vlink, addr) => h.checkPeerAddress!(vlink, addr);
}

/** Initiator: message 3. */
export function startAuth(ctx: ExchangeContext, sa: IkeSa): void {
  const cfg = sa.cfg;
  sa.childSpiIn = ctx.host.allocSpi();
  const idi = idPayload(PayloadType.IDi, cfg.localId);
  const ts = childTsPayloads(cfg, 'requester');
  const inner: PayloadRepr[] = [
    idi,
    idPayload(PayloadType.IDr, cfg.remoteId),
    ...ourAuth(sa, idi),
    // Nothing else with this peer (we restarted, or the old SA died): it should drop what it had with us.
    ...(sa.sendInitialContact ? [notify(NotifyType.INITIAL_CONTACT)] : []),
    ...ts.mode,
    espOffer(cfg.esp, sa.childSpiIn),
    ts.tsi,
    ts.tsr,
  ];
  const id = sa.takeRequestId();
  sa.request(ExchangeType.IKE_AUTH, id, sa.sk!.seal(sa.header(ExchangeType.IKE_AUTH, false, id), inner), (n) =>
    ctx.failed(sa, `no answer to IKE_AUTH from ${sa.remote.addr} after ${n} tries`, true));
}

/** Initiator: message 4. */
export async function onAuthResponse(ctx: ExchangeContext, sa: IkeSa, ps: readonly PayloadRepr[]): Promise<void> {
  const peer = sa.remote.addr;
  const idr = find(ps, PayloadType.IDr);
  const auth = find(ps, PayloadType.AUTH);
  const err = errorNotify(ps);
  if (idr === undefined || auth === undefined) {
    const why = err === undefined
      ? 'response has no IDr/AUTH'
      : err.notifyType === NotifyType.AUTHENTICATION_FAILED
        ? `peer says AUTHENTICATION_FAILED (${sa.cfg.pubkey !== undefined ? 'does its peer key match our private_key?' : PSK_HINT} or it does not accept our local_id "${sa.cfg.localId.text}")`
        : `peer refused with ${notifyName(err.notifyType)}`;
    ctx.failed(sa, `IKE_AUTH with ${peer}: ${why}`, true);
    return;
  }
  const bad = await authorisePeer(sa, idr, auth, ps, ctx.authTimeoutMs, hostAddressCheck(ctx));
  // Deleted while we waited (vlink removed, engine stopped): nothing left to answer for.
  if (sa.state !== 'CONNECTING') return;
  if (bad !== null) {
    // RFC 7296 §2.21.2: the initiator may tell the responder in an INFORMATIONAL; once, unanswered.
    const id = sa.takeRequestId();
    sa.sendRaw(sa.sk!.seal(sa.header(ExchangeType.INFORMATIONAL, false, id), [notify(NotifyType.AUTHENTICATION_FAILED)]));
    ctx.failed(sa, `IKE_AUTH from ${peer}: ${bad}`, true);
    return;
  }
  sa.state = 'ESTABLISHED';
  sa.establishedAt = sa.clock.now();
  sa.childError = childFromResponse(ctx, sa, ps);
  // After the child: the SA it replaces takes its SAs along, and the new outbound one is in place.
  ctx.established(sa);
}

/** Installs the CHILD_SA of the IKE_AUTH response; why not, if it cannot. */
function childFromResponse(ctx: ExchangeContext, sa: IkeSa, ps: readonly PayloadRepr[]): string | null {
  const peer = sa.remote.addr;
  const err = errorNotify(ps);
  if (err !== undefined) {
    const why = `IKE_SA with ${peer} established, but the peer refused the CHILD_SA: ${notifyName(err.notifyType)}; the vlink stays without an SA`;
    ctx.log.warn({ vlink: sa.cfg.vlink, peer, notify: notifyName(err.notifyType) }, why);
    return why;
  }
  const saP = find(ps, PayloadType.SA);
  const tsi = find(ps, PayloadType.TSi);
  const tsr = find(ps, PayloadType.TSr);
  let why: string | null = null;
  if (saP === undefined || tsi === undefined || tsr === undefined) why = 'response lacks SA or traffic selectors';
  else why = checkChildAnswer(sa.cfg, ps, tsi, tsr);
  const choice = why === null ? checkEspAnswer(saP!, sa.cfg.esp) : why;
  if (typeof choice === 'string') {
    const bad = `IKE_SA with ${peer} established, but its CHILD_SA is unusable: ${choice}`;
    ctx.log.error({ vlink: sa.cfg.vlink, peer }, bad);
    return bad;
  }
  const protocols = childProtocols(sa.cfg, 'requester', tsi!, tsr!);
  return install(ctx, sa, childInstall(sa.suite!.prf.id, sa.keys!.skD, sa.ni, sa.nr, choice, sa.childSpiIn, 'initiator', protocols)) ? null : 'the CHILD_SA could not be installed';
}

export interface AuthRequestOutcome {
  reply: PayloadRepr[];
  /** Why the IKE SA must die once the reply is sent; null when it is established. */
  error: string | null;
}

/**
 * Responder: message 3. The inner payloads of the response and the verdict; null when the SA
 * was deleted while the peer's authorisation was pending (nothing is answered then). A refused
 * CHILD_SA is left in sa.childError.
 */
export async function onAuthRequest(ctx: ExchangeContext, sa: IkeSa, ps: readonly PayloadRepr[]): Promise<AuthRequestOutcome | null> {
  const peer = sa.remote.addr;
  const idi = find(ps, PayloadType.IDi);
  const auth = find(ps, PayloadType.AUTH);
  if (idi === undefined || auth === undefined) {
    return { reply: [notify(NotifyType.INVALID_SYNTAX)], error: `IKE_AUTH from ${peer}: no IDi or AUTH payload (EAP is not supported); answered INVALID_SYNTAX` };
  }
  const idr = find(ps, PayloadType.IDr);
  let bad = idr !== undefined && !sameIdentity(idr, sa.cfg.localId)
    ? `peer expects us to be "${idToString(idr)}", but local_id is "${sa.cfg.localId.text}"`
    : await authorisePeer(sa, idi, auth, ps, ctx.authTimeoutMs, hostAddressCheck(ctx));
  if (sa.state !== 'CONNECTING') return null;
  if (bad !== null) {
    return { reply: [notify(NotifyType.AUTHENTICATION_FAILED)], error: `IKE_AUTH from ${peer}: ${bad}; answered AUTHENTICATION_FAILED` };
  }
  sa.state = 'ESTABLISHED';
  sa.establishedAt = sa.clock.now();
  const ourId = idPayload(PayloadType.IDr, sa.cfg.localId);
  const reply: PayloadRepr[] = [ourId, ...ourAuth(sa, ourId)];
  const saP = find(ps, PayloadType.SA);
  const tsi = find(ps, PayloadType.TSi);
  const tsr = find(ps, PayloadType.TSr);
  if (saP === undefined || tsi === undefined || tsr === undefined) {
    ctx.log.info({ vlink: sa.cfg.vlink, peer }, `IKE_AUTH from ${peer}: no CHILD_SA requested`);
    return { reply, error: null };
  }
  let refuse: number | null = null;
  bad = null;
  const choice = selectEsp(saP, sa.cfg.esp);
  const shape = checkChildRequest(natTsCfg(sa, sa.cfg, tsi, tsr), ps, tsi, tsr);
  if (shape !== null) {
    refuse = shape.refuse;
    bad = shape.why;
  } else if (choice === null) {
    refuse = NotifyType.NO_PROPOSAL_CHOSEN;
    bad = `no ESP proposal in common with our esp_proposals (${noProposalDetail(saP, ProtocolId.ESP, sa.cfg.esp)})`;
  }
  if (refuse !== null || choice === null) {
    sa.childError = `IKE_AUTH from ${peer}: IKE_SA established, CHILD_SA refused: ${bad}`;
    ctx.log.warn({ vlink: sa.cfg.vlink, peer }, sa.childError);
    return { reply: [...reply, notify(refuse ?? NotifyType.NO_PROPOSAL_CHOSEN)], error: null };
  }
  const spiIn = ctx.host.allocSpi();
  const tsCfg = natTsCfg(sa, sa.cfg, tsi, tsr);
  const protocols = childProtocols(tsCfg, 'responder', tsi, tsr);
  // Installed before the response leaves: the initiator may send ESP as soon as it reads it.
  if (!install(ctx, sa, childInstall(sa.suite!.prf.id, sa.keys!.skD, sa.ni, sa.nr, choice, spiIn, 'responder', protocols))) {
    sa.childError = `IKE_AUTH from ${peer}: IKE_SA established, but the CHILD_SA could not be installed`;
    return { reply: [...reply, notify(NotifyType.NO_PROPOSAL_CHOSEN)], error: null };
  }
  const ts = childTsPayloads(tsCfg, 'responder', protocols);
  reply.push(...ts.mode, espAnswer(choice, spiIn), ts.tsi, ts.tsr);
  return { reply, error: null };
}
