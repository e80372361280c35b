// How the stub resolver reaches a server: one UDP exchange (every datagram that comes back is
// handed up, the stub decides what to keep) and one TCP exchange (RFC 7766 two-octet length
// framing). The real one uses node:dgram and node:net; transport-fake.ts sits beside it.

import dgram from 'node:dgram';
import net from 'node:net';

export interface DnsServer {
  address: string;
  port: number;
}

export function serverToString(s: DnsServer): string {
  return net.isIPv6(s.address) ? `[${s.address}]:${s.port}` : `${s.address}:${s.port}`;
}

export interface UdpExchange {
  close(): void;
}

export interface DnsTransport {
  /** Sends one query; onDatagram gets every datagram that arrives until close(), with its source. */
  udp(server: DnsServer, query: Buffer, onDatagram: (b: Buffer, from: DnsServer) => void, onError: (e: Error) => void): UdpExchange;
  /** One query over TCP; the reply without its length prefix, or an Error value. Never rejects. */
  tcp(server: DnsServer, query: Buffer, signal: AbortSignal): Promise<Buffer | Error>;
}

/** The largest reply we accept over TCP: the framing allows 65535. */
const TCP_MAX = 65535;

export const nodeTransport: DnsTransport = {
  udp(server, query, onDatagram, onError) {
    const sock = dgram.createSocket(net.isIPv6(server.address) ? 'udp6' : 'udp4');
    let closed = false;
    sock.on('message', (msg, rinfo) => {
      if (!closed) onDatagram(msg, { address: rinfo.address, port: rinfo.port });
    });
    sock.on('error', (e) => {
      if (!closed) onError(e);
    });
    sock.send(query, server.port, server.address, (e) => {
      if (e && !closed) onError(e);
    });
    return {
      close() {
        if (closed) return;
        closed = true;
        try {
          sock.close();
        } catch {
          // already closed by an error
        }
      },
    };
  },

  tcp(server, query, signal) {
    return new Promise((resolve) => {
      const sock = net.connect({ host: server.address, port: server.port });
      let buf = Buffer.alloc(0);
      let done = false;
      const finish = (r: Buffer | Error) => {
        if (done) return;
        done = true;
        signal.removeEventListener('abort', onAbort);
        sock.destroy();
        resolve(r);
      };
      const onAbort = () => finish(new Error('TCP exchange timed out'));
      if (signal.aborted) return finish(new Error('TCP exchange timed out'));
      signal.addEventListener('abort', onAbort);
      sock.on('connect', () => {
        const len = Buffer.alloc(2);
        len.writeUInt16BE(query.length);
        sock.write(Buffer.concat([len, query]));
      });
      sock.on('data', (d) => {
        buf = Buffer.concat([buf, d]);
        if (buf.length >= 2) {
          const n = buf.readUInt16BE(0);
          if (n > TCP_MAX) return finish(new Error('TCP reply too long'));
          if (buf.length >= 2 + n) finish(buf.subarray(2, 2 + n));
        }
      });
      sock.on('error', (e) => finish(e));
      sock.on('close', () => finish(new Error('TCP connection closed before a full reply')));
    });
  },
};
