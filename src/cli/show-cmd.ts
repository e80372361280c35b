import { controlCall } from '../control/control-client.js';
import { RENDERERS } from '../tools/inspector.js';
import { resolveSocket } from './socket-path.js';
import { exportWiresharkKeys } from './wireshark-keys-cmd.js';
import { parseInterval, watch } from './watch-cmd.js';

export const SHOW_VIEWS = ['links', 'policies', 'sas', 'routes', 'counters', 'ike', 'guard', 'dns', 'dhcp'];

export async function showCommand(o: {
  what: string; json: boolean; all: boolean; socket?: string | undefined; node?: string | undefined;
  wireshark?: string | undefined; watch?: boolean; interval?: number;
}): Promise<void> {
  const sock = resolveSocket(o);
  if (o.wireshark !== undefined) return exportWiresharkKeys({ sock, what: o.what, dir: o.wireshark, json: o.json });
  const fetch = async () => (await controlCall(sock, 'show', { what: o.what, all: o.all })) as Record<string, unknown>;
  const text = (view: Record<string, unknown>) => `node ${String(view['node'])}\n${RENDERERS[o.what]!(view)}`;
  if (o.watch === true) {
    const secs = o.interval ?? 1;
    const intervalMs = parseInterval(secs);
    await watch({
      intervalMs, json: o.json, tty: process.stdout.isTTY === true,
      title: `Every ${secs.toFixed(1)}s: iiptran show ${o.what}${o.all ? ' --all' : ''}`,
      write: (s) => process.stdout.write(s),
      frame: async () => (o.json ? JSON.stringify(await fetch()) : text(await fetch())),
    });
    return;
  }
  const view = await fetch();
  process.stdout.write(o.json ? JSON.stringify(view, null, 2) + '\n' : `${text(view)}\n`);
}
