// A real control server in its own process (spawned by control-server.test.ts), so its memory
// can be measured apart from the test's clients. Default limits; `stats` returns the server's
// counters (null from a server without them).

import pino from 'pino';
import { ControlServer } from '../../src/control/control-server.js';

const socketPath = process.argv[2]!;
const server: ControlServer = new ControlServer(
  socketPath,
  {
    ping: () => ({ pid: process.pid }),
    stats: () => (server as unknown as { stats?: unknown }).stats ?? null,
  },
  pino({ level: 'silent' }),
);
await server.listen();
process.stdout.write('ready\n');
process.on('SIGTERM', () => void server.close().then(() => process.exit(0)));
