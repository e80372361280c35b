// BIRD's control socket spoken directly (the protocol birdc uses), so polling 100 BIRDs for
// readiness and OSPF state costs a socket each instead of a birdc process each. The server
// greets with "0001 BIRD <version> ready."; a reply is lines "NNNN-text" (more follow),
// " text" (continues the previous code) and ends with "NNNN text". Codes 8xxx and 9xxx are
// run-time and parse errors.

import net from 'node:net';

export interface BirdReply {
  /** Code of the final line, e.g. 0 for "0000", 13 for "0013 Daemon is up and running". */
  code: number;
  /** The reply as birdc prints it: codes and continuation markers removed. */
  text: string;
}

/** Turns the raw lines of one reply into birdc's text and its final code; null until the final line has arrived. */
export function parseBirdReply(raw: string): BirdReply | null {
  const lines = raw.split('\n');
  const out: string[] = [];
  for (const line of lines.slice(0, -1)) {
    const m = /^(\d{4})([ -])(.*)$/.exec(line);
    if (m === null) {
      out.push(line.startsWith(' ') ? line.slice(1) : line);
      continue;
    }
    if (m[3] !== '' || m[2] === '-') out.push(m[3]!);
    if (m[2] === ' ') return { code: Number(m[1]), text: out.join('\n') };
  }
  return null;
}

/** Sends one command and resolves with its reply; rejects when BIRD does not greet or answer in time. */
export function birdCommand(socket: string, command: string | null, timeoutMs = 3000): Promise<BirdReply> {
  return new Promise((resolve, reject) => {
    const c = net.connect(socket);
    let buf = '';
    let greeted = false;
    const done = (err: Error | null, r?: BirdReply) => {
      clearTimeout(timer);
      c.destroy();
      if (err !== null) reject(err);
      else resolve(r!);
    };
    const timer = setTimeout(() => done(new Error(`BIRD on ${socket} did not answer within ${timeoutMs} ms`)), timeoutMs);
    c.setEncoding('utf8');
    c.on('error', (e: NodeJS.ErrnoException) => done(new Error(`cannot reach BIRD on ${socket} (${e.code ?? e.message})`)));
    c.on('data', (chunk: string) => {
      buf += chunk;
      if (!greeted) {
        const nl = buf.indexOf('\n');
        if (nl < 0) return;
        const hello = parseBirdReply(buf.slice(0, nl + 1));
        if (hello === null || hello.code !== 1) return done(new Error(`unexpected greeting from BIRD on ${socket}: ${buf.slice(0, nl)}`));
        greeted = true;
        buf = buf.slice(nl + 1);
        if (command === null) return done(null, hello);
        c.write(`${command}\n`);
      }
      const r = parseBirdReply(buf);
      if (r !== null) done(null, r);
    });
  });
}

/** Whether BIRD answers on its control socket (it greets once its config is loaded). */
export function birdReady(socket: string, timeoutMs = 2000): Promise<boolean> {
  return birdCommand(socket, null, timeoutMs).then(() => true, () => false);
}
