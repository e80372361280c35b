// Looking things up in a decoded payload list: what every exchange does first.

import { PayloadType, isErrorNotify, type NotifyPayload, type PayloadRepr } from '../wire/ike/index.js';

export function find<T extends PayloadRepr['type']>(ps: readonly PayloadRepr[], type: T): Extract<PayloadRepr, { type: T }> | undefined {
  return ps.find((p) => p.type === type) as Extract<PayloadRepr, { type: T }> | undefined;
}

export function notifies(ps: readonly PayloadRepr[]): NotifyPayload[] {
  return ps.filter((p): p is NotifyPayload => p.type === PayloadType.NOTIFY);
}

export function hasNotify(ps: readonly PayloadRepr[], type: number): boolean {
  return notifies(ps).some((n) => n.notifyType === type);
}

/** The first error notify (type < 16384), which decides the fate of a response. */
export function errorNotify(ps: readonly PayloadRepr[]): NotifyPayload | undefined {
  return notifies(ps).find((n) => isErrorNotify(n.notifyType));
}
