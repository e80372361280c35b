import { controlCall } from '../control/control-client.js';
import { RENDERERS } from '../tools/inspector.js';
import { resolveSocket } from './socket-path.js';

export const SHOW_VIEWS = ['links', 'policies', 'sas', 'routes', 'counters', 'ike', 'guard', 'dns', 'dhcp'];

export async function showCommand(o: { what: string; json: boolean; all: boolean; socket?: string | undefined; node?: string | undefined }): Promise<void> {
  const sock = resolveSocket(o);
  const view = (await controlCall(sock, 'show', { what: o.what, all: o.all })) as Record<string, unknown>;
  process.stdout.write(o.json ? JSON.stringify(view, null, 2) + '\n' : `node ${String(view['node'])}\n${RENDERERS[o.what]!(view)}\n`);
}
