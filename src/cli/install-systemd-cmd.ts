// `iiptran install-systemd`: puts contrib/systemd/iiptran@.service into the unit directory, with
// its ExecStart lines pointing at the iiptran this command runs from, and (unless --no-ike) the
// drop-in that lets IKE bind UDP 500. Nothing is enabled or started: that stays the operator's
// `systemctl enable --now iiptran@NAME`.

import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Argv, CommandModule } from 'yargs';
import { IiptranError } from '../errors.js';

export const UNIT_NAME = 'iiptran@.service';
export const IKE_DROP_IN = '10-ike.conf';
/** The program the shipped unit names; replaced by the real one on install. */
const PLACEHOLDER = '/usr/bin/iiptran';

/** The package root: this file is dist/src/cli/ in a build. */
export function packageRoot(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
}

export function shippedUnit(root = packageRoot()): string {
  const file = path.join(root, 'contrib', 'systemd', UNIT_NAME);
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new IiptranError('IIPTRAN_ERR_USAGE', `the unit file ${file} is missing from this installation (${(e as NodeJS.ErrnoException).code ?? String(e)})`, { cause: e });
  }
}

/** The command systemd runs: node by absolute path, so the unit does not depend on PATH. */
export function defaultExec(root = packageRoot()): string {
  return `${process.execPath} ${path.join(root, 'bin', 'iiptran.js')}`;
}

/** The unit with the program in ExecStartPre/ExecStart replaced by `exec` (absolute paths, no spaces in them). */
export function renderUnit(template: string, exec: string): string {
  const parts = exec.split(' ');
  if (parts.some((p) => !path.isAbsolute(p) || /[\s"'\\$%;]/.test(p))) {
    throw new IiptranError('IIPTRAN_ERR_USAGE', `--exec: "${exec}" must be absolute paths without quotes, spaces, $, % or ; in them (systemd would read those specially)`);
  }
  const lines = template.split('\n');
  let n = 0;
  const out = lines.map((l) => {
    if (!/^ExecStart(Pre)?=/.test(l)) return l;
    n++;
    return l.replace(`=${PLACEHOLDER} `, `=${exec} `);
  });
  if (n !== 2 || out.some((l) => /^ExecStart(Pre)?=/.test(l) && l.includes(`=${PLACEHOLDER} `))) {
    throw new IiptranError('IIPTRAN_ERR_INTERNAL', `${UNIT_NAME}: expected ExecStartPre and ExecStart naming ${PLACEHOLDER}`);
  }
  return out.join('\n');
}

export function ikeDropIn(): string {
  return [
    '# Written by `iiptran install-systemd`: IKEv2 listens on UDP 500, a port below 1024, which',
    '# needs CAP_NET_BIND_SERVICE besides the unit\'s CAP_NET_ADMIN and CAP_NET_RAW. Remove this',
    '# file (and systemctl daemon-reload) on hosts whose vlinks are all keyed by key files.',
    '[Service]',
    'CapabilityBoundingSet=CAP_NET_BIND_SERVICE',
    'AmbientCapabilities=CAP_NET_BIND_SERVICE',
    '',
  ].join('\n');
}

export interface InstallResult {
  unit: string;
  dropIn: string | null;
  exec: string;
  /** systemctl daemon-reload ran (systemd is the init system here). */
  reloaded: boolean;
}

export function installSystemd(o: { unitDir: string; exec: string; ike: boolean; reload: boolean }): InstallResult {
  const unit = renderUnit(shippedUnit(), o.exec);
  fs.mkdirSync(o.unitDir, { recursive: true, mode: 0o755 });
  const unitPath = path.join(o.unitDir, UNIT_NAME);
  writeAtomic(unitPath, unit);
  const dropDir = path.join(o.unitDir, `${UNIT_NAME}.d`);
  const dropPath = path.join(dropDir, IKE_DROP_IN);
  if (o.ike) {
    fs.mkdirSync(dropDir, { recursive: true, mode: 0o755 });
    writeAtomic(dropPath, ikeDropIn());
  } else {
    fs.rmSync(dropPath, { force: true });
  }
  let reloaded = false;
  // /run/systemd/system exists exactly when systemd is the running init (sd_booted(3)).
  if (o.reload && fs.existsSync('/run/systemd/system')) {
    const r = spawnSync('systemctl', ['daemon-reload'], { encoding: 'utf8', timeout: 30_000 });
    if (r.status !== 0) throw new IiptranError('IIPTRAN_ERR_USAGE', `wrote ${unitPath}, but systemctl daemon-reload failed: ${(r.stderr || r.error?.message || '').trim()}`);
    reloaded = true;
  }
  return { unit: unitPath, dropIn: o.ike ? dropPath : null, exec: o.exec, reloaded };
}

function writeAtomic(file: string, content: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, content, { mode: 0o644 });
  fs.renameSync(tmp, file);
}

interface Args {
  'unit-dir': string;
  exec: string | undefined;
  ike: boolean;
  reload: boolean;
  stdout: boolean;
  json: boolean;
}

export const installSystemdCommand: CommandModule<object, Args> = {
  command: 'install-systemd',
  describe: 'Install the systemd unit iiptran@.service (instance = config name: iiptran@a runs /etc/iiptran/a.yaml)',
  builder: (y: Argv) =>
    y
      .option('unit-dir', { type: 'string', default: '/etc/systemd/system', describe: 'where to write the unit' })
      .option('exec', { type: 'string', describe: 'command that runs iiptran (absolute paths); default: this node binary and this package\'s bin/iiptran.js' })
      .option('ike', { type: 'boolean', default: true, describe: 'also write the drop-in adding CAP_NET_BIND_SERVICE for IKE\'s UDP 500 (--no-ike: key files only)' })
      .option('reload', { type: 'boolean', default: true, describe: 'run systemctl daemon-reload when systemd is the init system' })
      .option('stdout', { type: 'boolean', default: false, describe: 'print the unit (and drop-in) instead of installing' })
      .option('json', { type: 'boolean', default: false, describe: 'print {unit, dropIn, exec, reloaded}' })
      .example('$0 install-systemd && systemctl enable --now iiptran@a', 'run /etc/iiptran/a.yaml now and at boot')
      .example('$0 install-systemd --stdout', 'review what would be installed'),
  handler: (a) => {
    const exec = a.exec ?? defaultExec();
    if (a.stdout) {
      process.stdout.write(`# ${UNIT_NAME}\n${renderUnit(shippedUnit(), exec)}${a.ike ? `\n# ${UNIT_NAME}.d/${IKE_DROP_IN}\n${ikeDropIn()}` : ''}`);
      return;
    }
    const r = installSystemd({ unitDir: a['unit-dir'], exec, ike: a.ike, reload: a.reload });
    if (a.json) {
      process.stdout.write(JSON.stringify(r, null, 2) + '\n');
      return;
    }
    process.stdout.write(
      [
        `installed ${r.unit}${r.dropIn === null ? '' : ` and ${r.dropIn}`} (runs ${r.exec})`,
        r.reloaded ? 'systemctl daemon-reload: done' : 'systemd is not the init system here: run `systemctl daemon-reload` where it is',
        'next: put the config in /etc/iiptran/NAME.yaml (keys beside it, mode 0600), then',
        '  systemctl enable --now iiptran@NAME      # start now and at boot',
        '  systemctl reload iiptran@NAME            # SIGHUP: apply a changed config',
        '  journalctl -u iiptran@NAME -f            # its log',
      ].join('\n') + '\n',
    );
  },
};
