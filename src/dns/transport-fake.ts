// A transport for unit tests: a handler plays the servers. It sees each query (decoded bytes,
// protocol, server) and returns the datagrams to deliver (several: e.g. a forged one first),
// or null to stay silent. Replies are delivered on a later tick, as from a socket.

import type { DnsServer, DnsTransport, UdpExchange } from './transport.js';

export type FakeHandler = (query: Buffer, proto: 'udp' | 'tcp', server: DnsServer) => Buffer[] | null;

export interface FakeLogEntry {
  proto: 'udp' | 'tcp';
  server: DnsServer;
  query: Buffer;
}

export class FakeTransport implements DnsTransport {
  readonly log: FakeLogEntry[] = [];
  /** Source the UDP replies claim; defaults to the server queried. */
  replyFrom: DnsServer | null = null;

  constructor(public handler: FakeHandler) {}

  udp(server: DnsServer, query: Buffer, onDatagram: (b: Buffer, from: DnsServer) => void): UdpExchange {
    this.log.push({ proto: 'udp', server, query });
    let open = true;
    const replies = this.handler(query, 'udp', server) ?? [];
    setImmediate(() => {
      for (const r of replies) if (open) onDatagram(r, this.replyFrom ?? server);
    });
    return { close: () => void (open = false) };
  }

  tcp(server: DnsServer, query: Buffer, signal: AbortSignal): Promise<Buffer | Error> {
    this.log.push({ proto: 'tcp', server, query });
    const replies = this.handler(query, 'tcp', server);
    if (replies && replies.length > 0) return new Promise((r) => setImmediate(() => r(replies[0]!)));
    return new Promise((r) => {
      if (signal.aborted) r(new Error('TCP exchange timed out'));
      signal.addEventListener('abort', () => r(new Error('TCP exchange timed out')));
    });
  }
}
