// Client side of the control socket (see control-server.ts for the protocol).

import net from 'node:net';
import { ControlError, IiptranError, type ErrorCode } from '../errors.js';

export async function controlCall(socketPath: string, method: string, params: Record<string, unknown> = {}, timeoutMs = 5000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const c = net.connect(socketPath);
    let buf = '';
    const timer = setTimeout(() => {
      c.destroy();
      reject(new ControlError(`no answer from ${socketPath} within ${timeoutMs} ms`));
    }, timeoutMs);
    c.setEncoding('utf8');
    c.on('connect', () => c.write(JSON.stringify({ id: 1, method, params }) + '\n'));
    c.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const hint = e.code === 'ENOENT' || e.code === 'ECONNREFUSED' ? ': is `iiptran node` running with this control_socket?' : '';
      reject(new ControlError(`cannot reach control socket ${socketPath} (${e.code ?? e.message})${hint}`, e));
    });
    c.on('close', () => {
      // Settles only if nothing else did: a daemon that hangs up without a reply (shutting down,
      // or over a limit) is reported now rather than after the timeout.
      clearTimeout(timer);
      reject(new ControlError(`${socketPath} closed the connection without an answer`));
    });
    c.on('data', (chunk: string) => {
      buf += chunk;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      c.end();
      try {
        const reply = JSON.parse(buf.slice(0, nl)) as { ok: boolean; result?: unknown; error?: { code: ErrorCode; message: string } };
        if (reply.ok) resolve(reply.result);
        else reject(new IiptranError(reply.error?.code ?? 'IIPTRAN_ERR_CONTROL', reply.error?.message ?? 'unknown error'));
      } catch (e) {
        reject(new ControlError('malformed reply from daemon', e));
      }
    });
  });
}
