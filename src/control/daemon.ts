// `iiptran node`: load config, start the node, serve the control socket, handle signals.
//   SIGHUP  re-read the config file; apply it only if all of it (keys included) is valid
//   SIGTERM / SIGINT  remove vlinks (their TUNs vanish), close sockets, remove the socket file

import type { Logger } from 'pino';
import { checkNodeConfig } from './config-check.js';
import { OverlayNode, type NodeIo } from './node.js';
import { ControlServer } from './control-server.js';
import { countersView, dnsView, guardView, ikeView, linksView, policiesView, routesView, sasView } from './inspect.js';
import { ConfigError, IiptranError } from '../errors.js';
import { noDhcpView } from './node-dhcp.js';
import { MetricsServer } from './metrics-server.js';
import { renderMetrics } from './metrics.js';
import { formatListen } from './metrics-config.js';
import { secretsView } from './key-export.js';

export interface DaemonHandle {
  node: OverlayNode;
  stop(): Promise<void>;
}

/** The JS heap beside the RSS: a soak tells a leak in JS objects from one in native or buffer memory. */
function memoryView() {
  const m = process.memoryUsage();
  return { rssBytes: m.rss, heapUsedBytes: m.heapUsed, heapTotalBytes: m.heapTotal, externalBytes: m.external, arrayBuffersBytes: m.arrayBuffers };
}

export async function runDaemon(configPath: string, io: NodeIo, log: Logger, socketOverride?: string): Promise<DaemonHandle> {
  // The same validation as `iiptran check-config`: what it calls ok, the daemon accepts.
  const { cfg, controlSocketGid } = checkNodeConfig(configPath);
  if (socketOverride !== undefined) cfg.controlSocket = socketOverride;
  const node = new OverlayNode(cfg, io, log);
  await node.start();

  // A Map, so a client naming "constructor" or "toString" finds nothing.
  const views = new Map<string, (p: Record<string, unknown>) => unknown>([
    ['links', () => linksView(node)],
    ['policies', () => policiesView(node)],
    ['sas', () => sasView(node)],
    ['counters', () => countersView(node)],
    ['ike', () => ikeView(node)],
    ['routes', async (p) => routesView(node, await io.netsys.routes(), p['all'] === true)],
    ['dns', () => dnsView(node)],
    ['guard', async () => guardView(node, io.guard === undefined ? null : await io.guard.state())],
    ['dhcp', () => node.dhcp?.view() ?? noDhcpView(node.cfg.node)],
  ]);
  const applyReload = async () => {
    const { cfg: next } = checkNodeConfig(configPath);
    if (socketOverride !== undefined) next.controlSocket = socketOverride;
    // The socket is already bound with its group; like control_socket, that needs a restart.
    if (next.controlSocketGroup !== cfg.controlSocketGroup) throw new ConfigError('control_socket_group', 'cannot change on reload; restart the daemon');
    const listen = (c: typeof cfg) => (c.metricsListen === undefined ? 'off' : formatListen(c.metricsListen));
    if (listen(next) !== listen(cfg)) throw new ConfigError('metrics_listen', `cannot change on reload (${listen(cfg)} -> ${listen(next)}); restart the daemon`);
    return node.reload(next);
  };
  // SIGHUP and the control socket's reload take turns: never two reloads at once.
  let reloading: Promise<unknown> = Promise.resolve();
  const reload = () => {
    const r = reloading.then(applyReload);
    reloading = r.catch(() => undefined);
    return r;
  };
  const server: ControlServer = new ControlServer(
    cfg.controlSocket,
    {
      ping: () => ({ node: cfg.node, pid: process.pid, uptimeSeconds: Math.round((Date.now() - node.startedAt) / 1000), control: server.stats, memory: memoryView() }),
      show: (p) => {
        const what = String(p['what']);
        const v = views.get(what);
        if (v === undefined) throw new IiptranError('IIPTRAN_ERR_USAGE', `unknown view "${what}"; one of: ${[...views.keys()].join(', ')}`);
        return v(p);
      },
      reload,
      // SA keys for Wireshark (show sas|ike --wireshark): logged, so the journal keeps a trace.
      secrets: (p) => {
        const r = secretsView(node, p['what'], cfg.controlSocketGroup !== undefined);
        log.warn({ what: p['what'] }, 'SA keys exported over the control socket (show --wireshark)');
        return r;
      },
    },
    log,
    { gid: controlSocketGid },
  );
  try {
    await server.listen();
  } catch (e) {
    // A start that failed leaves the guard, as a crash would (vn-guard.ts).
    await node.stop({ keepGuard: true });
    throw e;
  }
  log.info({ socket: cfg.controlSocket }, 'control socket listening');

  let metrics: MetricsServer | null = null;
  if (cfg.metricsListen !== undefined) {
    // The guard's drop counters live in the kernel: read only when there is a guard to read.
    const guardState = async () => (io.guard === undefined || node.guardSpec === null ? null : io.guard.state());
    metrics = new MetricsServer(cfg.metricsListen, async () => renderMetrics({ node, guard: await guardState(), now: Date.now() }), log);
    try {
      await metrics.start();
    } catch (e) {
      await server.close();
      await node.stop({ keepGuard: true });
      throw e;
    }
    log.info({ metrics: `http://${formatListen(cfg.metricsListen)}/metrics` }, 'metrics endpoint listening');
  }

  const onHup = () => {
    reload().catch((e: unknown) => {
      // The running config stays: nothing was changed before validation finished.
      log.error({ code: (e as IiptranError).code, err: (e as Error).message }, 'reload rejected; keeping the running config');
    });
  };
  let stopping: Promise<void> | null = null;
  const stop = () => {
    stopping ??= (async () => {
      process.off('SIGHUP', onHup);
      await reloading;
      await metrics?.close();
      await server.close();
      await node.stop();
    })();
    return stopping;
  };
  process.on('SIGHUP', onHup);
  return { node, stop };
}
