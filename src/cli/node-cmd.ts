import pino from 'pino';
import { runDaemon } from '../control/daemon.js';
import { openTun } from '../io/tun.js';
import { openUdpUnderlay } from '../io/udp-underlay.js';
import { openRawEsp } from '../io/raw-esp.js';
import { RtNetSys } from '../io/netsys.js';
import { loadNodeConfig } from '../control/config.js';
import { openIkeUdp } from '../io/ike-udp.js';
import { ikeKeyLogFile } from '../io/ike-keylog.js';
import { OsGuard } from '../io/guard.js';
import { loadEspCrypto } from '../io/esp-native.js';
import { warmDataPath } from '../dataplane/warmup.js';
import { ensureDaemonNodeFlags } from '../io/node-flags.js';
import { RtDhcpNet } from '../io/dhcp-net.js';

export async function nodeCommand(o: { config: string; socket?: string | undefined; logLevel?: string | undefined }): Promise<void> {
  // First: a re-execution replaces this process, and nothing must have been opened before it.
  const nodeFlags = ensureDaemonNodeFlags();
  // Read the level early so start-up errors are logged at the level the operator asked for.
  const first = loadNodeConfig(o.config);
  const level = o.logLevel ?? first.logLevel;
  // DHCP's netlink socket only where DHCP is configured (a reload cannot add it).
  const dhcp = first.dhcpRelay !== undefined || first.vlinks.some((v) => v.dhcp !== undefined);
  const log = pino({ level, base: { pid: process.pid } }, pino.destination(2));
  log.debug({ execArgv: process.execArgv }, nodeFlags);
  // The data path's fast parts are on unless switched off (README "Data path"): TUN and UDP
  // offloads where the kernel has them, and ESP crypto in the addon.
  const offload = process.env['IIPTRAN_OFFLOAD'] !== '0';
  const nativeCrypto = process.env['IIPTRAN_NATIVE_CRYPTO'] !== '0';
  // IIPTRAN_FASTPATH=0: every packet through the JS pipeline (bench row iiptran-udp-nofast).
  const espCrypto = nativeCrypto ? loadEspCrypto({ fastPath: process.env['IIPTRAN_FASTPATH'] !== '0' }) : undefined;
  if (process.env['IIPTRAN_WARMUP'] !== '0') warmDataPath(espCrypto ?? null);
  const handle = await runDaemon(
    o.config,
    {
      openTun: (name) => openTun(name, { offload }),
      openUdp: (addr, port) => openUdpUnderlay(addr, port, { offload }),
      openRawEsp, openIkeUdp, netsys: new RtNetSys(), guard: new OsGuard(),
      ...(espCrypto ? { espCrypto } : {}),
      // The relay's socket to its servers is a plain UDP socket like IKE's.
      ...(dhcp ? { dhcp: { net: new RtDhcpNet(), openUdp: openIkeUdp } } : {}),
      // Like SSLKEYLOGFILE: only for tests and for decrypting captures, never set in production.
      ...(process.env['IIPTRAN_IKE_KEYLOG'] ? { ikeKeyLog: ikeKeyLogFile(process.env['IIPTRAN_IKE_KEYLOG']) } : {}),
    },
    log,
    o.socket,
  );
  await new Promise<void>((resolve) => {
    const done = (sig: string) => {
      log.info({ signal: sig }, 'shutting down');
      void handle.stop().then(resolve);
    };
    process.once('SIGTERM', () => done('SIGTERM'));
    process.once('SIGINT', () => done('SIGINT'));
  });
  log.flush();
  // Native pollers are closed; nothing should hold the loop, but a daemon must not linger.
  setTimeout(() => process.exit(0), 200).unref();
}
