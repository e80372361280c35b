// The IKE socket on UDP 500 (RFC 7296 §2): node:dgram bound to the underlay address. IKE is a
// handful of datagrams per SA lifetime, so the native batched path of the data plane is not
// worth it here; what matters is that a send error or an ICMP error never takes the daemon down.

import dgram from 'node:dgram';

export interface IkeUdpSocket {
  send(data: Buffer, addr: string, port: number): void;
  close(): void;
}

export type IkeUdpReceive = (data: Buffer, from: { addr: string; port: number }) => void;

/** Binds synchronously enough for the caller: errors after bind are reported through `onError`. */
export async function openIkeUdp(bindAddr: string, port: number, onMessage: IkeUdpReceive, onError: (e: Error) => void): Promise<IkeUdpSocket> {
  // An IPv6 underlay binds an IPv6-only socket: IKE over IPv6 (RFC 7296 with ID_IPV6_ADDR, TS_IPV6_ADDR_RANGE).
  const sock = dgram.createSocket({ type: bindAddr.includes(':') ? 'udp6' : 'udp4', reuseAddr: false, ipv6Only: bindAddr.includes(':') });
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind({ address: bindAddr, port, exclusive: true }, () => {
      sock.off('error', reject);
      resolve();
    });
  });
  sock.on('error', onError);
  sock.on('message', (msg, rinfo) => onMessage(msg, { addr: rinfo.address, port: rinfo.port }));
  let closed = false;
  return {
    send(data, addr, p) {
      if (closed) return;
      sock.send(data, p, addr, (err) => {
        if (err) onError(err);
      });
    },
    close() {
      if (closed) return;
      closed = true;
      sock.close();
    },
  };
}
