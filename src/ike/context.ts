// What an exchange may ask of the engine that runs it. Exchanges are plain functions over an
// IkeSa and this context, one file per exchange (strongSwan's task-per-exchange shape).

import type { Logger } from 'pino';
import type { IkeSa } from './ike-sa.js';
import type { IkeDatagram, IkeHost, IkeKeyLogRecord } from './types.js';

export interface ExchangeContext {
  readonly log: Logger;
  readonly host: IkeHost;
  /** How long IKE_AUTH may wait for the peer's authorisation (authorise.ts). */
  readonly authTimeoutMs: number;
  send(d: IkeDatagram): void;
  keyLog(rec: IkeKeyLogRecord): void;
  /** The SA's IKE_AUTH finished: it becomes the vlink's current SA. */
  established(sa: IkeSa): void;
  /** The SA is dead; `retry` asks for a new attempt later (initiator role only). */
  failed(sa: IkeSa, why: string, retry: boolean): void;
  /** Tables: the SA's own SPI became known (responder SPI allocation, initiator learning SPIr). */
  indexed(sa: IkeSa): void;
}
