// The checks behind `iiptran doctor`. Each one does the real thing the daemon, a lab or a test
// will do (open the TUN device and create one, add a namespace, load an nftables NAT ruleset,
// start charon with the tests' plugin list) rather than only looking for files, and cleans up
// after itself: namespaces have unique names and are deleted in finally.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { addNs, delNsSync, nsExec, run } from '../lab/netns.js';
import { READ_HEADROOM } from '../native/index.js';
import { REPO_ROOT } from '../lab/pair-lab.js';
import { natRuleset, NAT_TABLE } from '../lab/nat.js';
import { CHARON_PLUGINS, PROGRAMS, aptFix, charonPluginFile, locate, missingPrograms, type ProgramInfo } from './doctor-programs.js';
import { oneLine, type DoctorCheck, type DoctorRow } from './doctor.js';
import { IiptranError } from '../errors.js';

type Result = Omit<DoctorRow, 'name'>;
const ok = (detail: string): Result => ({ status: 'ok', detail, fix: null });
const SETUP = 'run scripts/setup.sh';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const isRoot = () => process.getuid?.() === 0;

/** A failed row when a program this check runs is missing, so the row names the package. */
function needs(programs: string[]): Result | null {
  const m = missingPrograms(programs);
  return m.length === 0 ? null : { status: 'fail', detail: `cannot check: ${m.map((x) => `${x.what} (${x.pkg})`).join(', ')} not installed`, fix: aptFix(m.map((x) => x.pkg)) };
}
const notRoot = (): Result => ({ status: 'warn', detail: 'not checked: needs root', fix: 'run iiptran doctor as root' });

async function withScratchNs<T>(fn: (ns: string) => Promise<T>): Promise<T> {
  const ns = `iitdoc${process.pid % 100000}${randomBytes(3).toString('hex')}`;
  try {
    await addNs(ns);
    return await fn(ns);
  } finally {
    delNsSync(ns);
  }
}

/** `a.b.c` >= `x.y.z`, numerically. */
export function versionAtLeast(have: string, want: string): boolean {
  const a = have.replace(/^v/, '').split('.').map(Number);
  const b = want.split('.').map(Number);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x > y;
  }
  return true;
}

function rootCheck(): DoctorCheck {
  return {
    name: 'root',
    run: async () => (isRoot() ? ok('running as root (uid 0)') : { status: 'fail', detail: `running as uid ${process.getuid?.()}: the daemon, labs and netns tests need root`, fix: 'run as root' }),
  };
}

function nodeCheck(): DoctorCheck {
  return {
    name: 'node',
    run: async () => {
      const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { engines?: { node?: string } };
      const want = /^>=\s*([\d.]+)$/.exec(pkg.engines?.node ?? '')?.[1];
      if (want === undefined) throw new IiptranError('IIPTRAN_ERR_INTERNAL', `package.json engines.node is not ">=X.Y": ${pkg.engines?.node}`);
      const have = process.versions.node;
      return versionAtLeast(have, want)
        ? ok(`node ${have} (package.json wants >= ${want})`)
        : { status: 'fail', detail: `node ${have} is older than ${want} (package.json engines)`, fix: `install Node.js >= ${want}` };
    },
  };
}

// Everything the wrapper in src/native/index.ts calls: an addon built from older C source lacks some.
const ADDON_EXPORTS = ['tunOpen', 'tunSetCarrier', 'ifGetMtu', 'udpOpen', 'rawOpen', 'sockName', 'closeFd', 'writeBatch', 'sendBatch', 'Reader'];

function addonCheck(): DoctorCheck {
  return {
    name: 'native addon',
    run: async () => {
      const file = path.join(REPO_ROOT, 'build', 'Release', 'iiptran_native.node');
      const rebuild = 'run scripts/setup.sh (npm ci rebuilds it), or npx node-gyp rebuild';
      if (!fs.existsSync(file)) return { status: 'fail', detail: `${file} not built`, fix: rebuild };
      const gyp = fs.readFileSync(path.join(REPO_ROOT, 'binding.gyp'), 'utf8');
      const napiWanted = Number(/NAPI_VERSION=(\d+)/.exec(gyp)?.[1] ?? NaN);
      const napiHave = Number(process.versions.napi);
      if (!(napiHave >= napiWanted)) return { status: 'fail', detail: `built for N-API ${napiWanted}, node ${process.versions.node} has N-API ${napiHave}`, fix: 'install a newer Node.js' };
      let raw: Record<string, unknown>;
      try {
        raw = createRequire(import.meta.url)(file) as Record<string, unknown>;
      } catch (e) {
        return { status: 'fail', detail: `does not load: ${oneLine((e as Error).message)}`, fix: rebuild };
      }
      const missing = ADDON_EXPORTS.filter((k) => typeof raw[k] !== 'function');
      if (missing.length > 0) return { status: 'fail', detail: `stale build: lacks ${missing.join(', ')}`, fix: rebuild };
      // loadNative refuses an addon whose read headroom differs from the loader's.
      if (raw.READ_HEADROOM !== READ_HEADROOM) return { status: 'fail', detail: `stale build: READ_HEADROOM ${String(raw.READ_HEADROOM)}, the loader wants ${READ_HEADROOM}`, fix: rebuild };
      // One real system call through the addon (an ioctl), not only a successful dlopen.
      const mtu = (raw.ifGetMtu as (n: string) => number)('lo');
      return ok(`loads, ${ADDON_EXPORTS.length} exports, N-API ${napiWanted} (node has ${napiHave}, ABI ${process.versions.modules}), ioctl ok (lo mtu ${mtu})`);
    },
  };
}

function tunCheck(): DoctorCheck {
  return {
    name: 'TUN',
    run: async () => {
      const fix = 'modprobe tun; in a container, pass /dev/net/tun and CAP_NET_ADMIN';
      try {
        fs.closeSync(fs.openSync('/dev/net/tun', 'r+'));
      } catch (e) {
        return { status: 'fail', detail: `/dev/net/tun: ${(e as Error).message}`, fix };
      }
      if (!isRoot()) return { status: 'warn', detail: '/dev/net/tun opens; creating a TUN not checked: needs root', fix: 'run iiptran doctor as root' };
      const missing = needs(['ip']);
      if (missing !== null) return missing;
      return withScratchNs(async (ns) => {
        const r = await nsExec(ns, ['ip', 'tuntap', 'add', 'dev', 'iitdoc0', 'mode', 'tun'], { allowFail: true, timeoutMs: 5000 });
        if (r.code !== 0) return { status: 'fail', detail: `/dev/net/tun opens but creating a TUN fails: ${oneLine(r.stderr)}`, fix };
        return ok('/dev/net/tun opens; a TUN was created in a scratch namespace');
      });
    },
  };
}

function netnsCheck(): DoctorCheck {
  return {
    name: 'netns',
    run: async () => {
      if (!isRoot()) return notRoot();
      const missing = needs(['ip']);
      if (missing !== null) return missing;
      const ns = `iitdoc${process.pid % 100000}${randomBytes(3).toString('hex')}`;
      try {
        await addNs(ns);
        await run('ip', ['netns', 'del', ns], { timeoutMs: 5000 });
      } finally {
        delNsSync(ns);
      }
      return ok(`ip netns add/del ${ns}`);
    },
  };
}

function nftCheck(): DoctorCheck {
  return {
    name: 'nftables',
    run: async () => {
      if (!isRoot()) return notRoot();
      const missing = needs(['ip', 'nft']);
      if (missing !== null) return missing;
      return withScratchNs(async (ns) => {
        // The lab's own NAT ruleset: also proves the nat/masquerade and conntrack modules load.
        const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'iitdoc-')), 'nat.nft');
        try {
          fs.writeFileSync(file, natRuleset('lo'));
          const add = await nsExec(ns, ['nft', '-f', file], { allowFail: true, timeoutMs: 5000 });
          if (add.code !== 0) return { status: 'fail', detail: `loading a NAT table fails: ${oneLine(add.stderr)}`, fix: 'load the kernel modules nf_tables, nft_nat, nft_masq (modprobe), or use a kernel that has them' };
          const del = await nsExec(ns, ['nft', 'delete', 'table', 'ip', NAT_TABLE], { allowFail: true, timeoutMs: 5000 });
          if (del.code !== 0) return { status: 'fail', detail: `deleting the table fails: ${oneLine(del.stderr)}`, fix: SETUP };
          return ok('a NAT table (masquerade, ct state) loaded and deleted in a scratch namespace');
        } finally {
          fs.rmSync(path.dirname(file), { recursive: true, force: true });
        }
      });
    },
  };
}

function programCheck(name: string, info: ProgramInfo): DoctorCheck {
  return {
    name,
    run: async () => {
      const where = locate(name);
      if (where === null) {
        const detail = `not installed (${info.usedBy})`;
        return { status: info.level === 'required' ? 'fail' : 'warn', detail, fix: aptFix([info.pkg]) };
      }
      if (info.version === undefined) return ok(where);
      const r = await run(where, info.version, { allowFail: true, timeoutMs: 5000 });
      const text = r.stdout.trim() !== '' ? r.stdout : r.stderr;
      const first = text.split('\n').find((l) => l.trim() !== '') ?? '';
      if (r.code !== 0) return { status: info.level === 'required' ? 'fail' : 'warn', detail: `${where} ${info.version.join(' ')} exits ${r.code}: ${oneLine(first, 80)}`, fix: `apt-get install --reinstall ${info.pkg}` };
      return ok(`${where}: ${oneLine(first, 70)}`);
    },
  };
}

function charonPluginFilesCheck(): DoctorCheck {
  return {
    name: 'charon plugins',
    run: async () => {
      const missing = Object.entries(CHARON_PLUGINS).filter(([p]) => !fs.existsSync(charonPluginFile(p)));
      if (missing.length === 0) return ok(`all ${Object.keys(CHARON_PLUGINS).length} the tests load are installed`);
      return { status: 'fail', detail: `missing: ${missing.map(([p, pkg]) => `${p} (${pkg})`).join(', ')}`, fix: aptFix(missing.map(([, pkg]) => pkg)) };
    },
  };
}

/** The "loaded plugins:" line of charon's log, as a set; null when charon has not written it. */
export function parseLoadedPlugins(log: string): Set<string> | null {
  const m = /loaded plugins: (.*)/.exec(log);
  return m ? new Set(m[1]!.trim().split(/\s+/)) : null;
}

/**
 * charon itself, started the way the tests start it (explicit plugin list, private /run, its own
 * namespace), must report every plugin loaded: a plugin file can exist and still fail to load.
 */
function charonStartCheck(): DoctorCheck {
  return {
    name: 'charon loads plugins',
    minTimeoutMs: 15_000,
    run: async () => {
      if (!isRoot()) return notRoot();
      const missing = needs(['ip', 'unshare', 'mount', 'charon']);
      if (missing !== null) return missing;
      const charon = locate('charon')!;
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iitdoc-charon-'));
      try {
        return await withScratchNs(async (ns) => {
          fs.mkdirSync(path.join(dir, 'run'));
          const log = path.join(dir, 'charon.log');
          fs.writeFileSync(path.join(dir, 'strongswan.conf'), `charon {
  load_modular = no
  load = ${Object.keys(CHARON_PLUGINS).join(' ')}
  plugins { vici { socket = unix://${dir}/charon.vici } }
  filelog { doctor { path = ${log}
    default = 1
    flush_line = yes } }
}
`);
          const outFd = fs.openSync(path.join(dir, 'stdout.log'), 'a');
          const p = spawn('ip', ['netns', 'exec', ns, 'unshare', '-m', 'sh', '-c', `mount --bind ${dir}/run /run && exec env STRONGSWAN_CONF=${dir}/strongswan.conf ${charon}`], { stdio: ['ignore', outFd, outFd] });
          fs.closeSync(outFd);
          p.on('error', () => {}); // a failed spawn shows up as a missing plugin line below
          const exited = new Promise((r) => p.once('exit', r));
          try {
            // The vici socket appears only once the plugins are loaded; the log is read after charon exits.
            const t0 = Date.now();
            while (!fs.existsSync(path.join(dir, 'charon.vici')) && p.exitCode === null && Date.now() - t0 < 10_000) await sleep(50);
          } finally {
            p.kill('SIGTERM');
            await Promise.race([exited, new Promise((r) => setTimeout(r, 3000).unref())]);
            if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
          }
          const text = fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '';
          const loaded = parseLoadedPlugins(text);
          if (loaded === null) {
            const out = oneLine(`${text} ${fs.readFileSync(path.join(dir, 'stdout.log'), 'utf8')}`, 120);
            return { status: 'fail', detail: `charon did not report its plugins (exit ${p.exitCode ?? p.signalCode}): ${out || 'no output'}`, fix: SETUP };
          }
          const failed = Object.entries(CHARON_PLUGINS).filter(([n]) => !loaded.has(n));
          if (failed.length > 0) return { status: 'fail', detail: `charon could not load: ${failed.map(([n, pkg]) => `${n} (${pkg})`).join(', ')}`, fix: aptFix(failed.map(([, pkg]) => pkg)) };
          const version = /strongSwan ([\d.]+)/.exec(text)?.[1] ?? '?';
          return ok(`strongSwan ${version} started in a scratch namespace and loaded all ${Object.keys(CHARON_PLUGINS).length} plugins the tests use`);
        });
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/** Every check, in display order. */
export function doctorChecks(): DoctorCheck[] {
  return [
    rootCheck(),
    nodeCheck(),
    addonCheck(),
    tunCheck(),
    netnsCheck(),
    nftCheck(),
    ...Object.entries(PROGRAMS).map(([n, info]) => programCheck(n, info)),
    charonPluginFilesCheck(),
    charonStartCheck(),
  ];
}
