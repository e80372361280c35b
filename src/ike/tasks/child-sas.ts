// The data-plane side of CHILD_SAs that rekeys create and replace: installing the new pair,
// switching outbound traffic to it, and removing the old pair after a grace period.
//
// Make-before-break, so that no packet meets a missing SA:
//   initiator: response arrives -> new inbound + outbound installed, outbound switched at once
//              (the responder installed its inbound before answering) -> Delete(old) -> after the
//              Delete's response, plus a grace period for reordered packets, the old inbound goes.
//   responder: request arrives -> new inbound installed, outbound NOT switched: the response may
//              still be on its way, and until the initiator reads it the initiator cannot decrypt
//              the new SA. The outbound switches when the initiator's Delete(old) arrives or when
//              the first packet arrives on the new inbound SA, whichever is first; the old inbound
//              stays for the grace period after that.

import type { ChildSaRecord, IkeSa } from '../ike-sa.js';
import { type ChildState, type RekeyContext } from '../rekey-state.js';
import type { ChildSaInstall } from '../types.js';
import { hex32, hex32x } from '../../wire/hex.js';

/** Into the data plane and the IKE SA; null if the host refused. */
export function installRekeyed(rc: RekeyContext, sa: IkeSa, c: ChildSaInstall, outbound: boolean): ChildSaRecord | null {
  const host = rc.h.host;
  const canDefer = host.activateChild !== undefined;
  try {
    host.installChild(sa.cfg.vlink, c, { outbound: outbound || !canDefer });
  } catch (e) {
    rc.log.error({ vlink: sa.cfg.vlink, err: (e as Error).message }, 'could not install the rekeyed CHILD_SA into the data plane');
    return null;
  }
  const rec: ChildSaRecord = { spiIn: c.spiIn, spiOut: c.spiOut, suite: c.suite, esn: c.esn, protocols: c.protocols ?? [4], createdAt: rc.now() };
  sa.children.push(rec);
  rc.child(rec, sa, outbound || !canDefer);
  rc.h.ctx.keyLog({
    type: 'child', vlink: sa.cfg.vlink, spiIn: hex32(c.spiIn), spiOut: hex32(c.spiOut), suite: c.suite,
    keyIn: Buffer.concat([c.keyIn, c.saltIn]).toString('hex'), keyOut: Buffer.concat([c.keyOut, c.saltOut]).toString('hex'), rekey: 1,
  });
  rc.log.info(
    { vlink: sa.cfg.vlink, spiIn: hex32x(c.spiIn), spiOut: hex32x(c.spiOut), suite: c.suite, outbound },
    `rekeyed CHILD_SA installed for ${sa.cfg.vlink}: in ${hex32x(c.spiIn)}, out ${hex32x(c.spiOut)}${outbound ? '' : ' (outbound switches when the peer is ready)'}`,
  );
  return rec;
}

/** Outbound traffic moves to `c` (a rekey responder's new SA, once the initiator holds it too). */
export function activate(rc: RekeyContext, sa: IkeSa, c: ChildSaRecord): void {
  const cs = rc.childIfKnown(c);
  if (cs === undefined || cs.outActive) return;
  cs.outActive = true;
  rc.h.host.activateChild?.(sa.cfg.vlink, c);
  rc.log.info({ vlink: sa.cfg.vlink, spiOut: hex32x(c.spiOut) }, `outbound traffic switched to CHILD_SA ${hex32x(c.spiOut)}`);
}

/** The initiator sends on the new SA only once it holds both halves: safe for us to switch too. */
export function maybeActivateByTraffic(rc: RekeyContext, sa: IkeSa, c: ChildSaRecord): void {
  const u = rc.h.host.childUsage?.(sa.cfg.vlink, c) ?? null;
  if (u !== null && u.inPackets > 0) activate(rc, sa, c);
}

/** Out of the IKE SA now, out of the data plane after `graceMs`. */
export function retireChild(rc: RekeyContext, sa: IkeSa, c: ChildSaRecord, graceMs: number): void {
  const i = sa.children.indexOf(c);
  if (i >= 0) sa.children.splice(i, 1);
  const vlink = sa.cfg.vlink;
  const remove = () => {
    rc.h.host.removeChild(vlink, { spiIn: c.spiIn, spiOut: c.spiOut });
    rc.log.info({ vlink, spiIn: hex32x(c.spiIn), spiOut: hex32x(c.spiOut) }, `old CHILD_SA ${hex32x(c.spiIn)}/${hex32x(c.spiOut)} removed`);
  };
  if (graceMs <= 0) remove();
  else rc.later(graceMs, remove);
}

/** The peer's rekey made `successor`; the peer deletes `c`, or we do once it is an orphan. */
export function replacedByPeer(rc: RekeyContext, cs: ChildState, successor: ChildSaRecord): void {
  cs.phase = 'replaced';
  cs.successor = successor;
  cs.orphanAt = rc.now() + rc.o.orphanMs;
}
