#!/usr/bin/env node
// Regenerates test/ike/charon-vectors.ts: known answers for the IKEv2 key schedule,
// taken from Debian's strongSwan charon rather than from our own code, so the tests can fail.
//
//   sudo node test/ike/gen-charon-vectors.mjs [--keep]
//
// Needs root, iproute2, tcpdump and strongswan-charon/-swanctl (+ libstrongswan-extra-plugins
// for curve25519/chapoly). For each case below it makes two private namespaces joined by a veth
// (10.231.77.1 ↔ .2; no traffic leaves them), runs one charon per namespace (kernel-netlink; see
// ../shared/interop/strongswan.md), initiates IKE_SA_INIT + IKE_AUTH with PSK, then
// CREATE_CHILD_SA with PFS for a second child and an IKE SA rekey. On this kernel the CHILD_SAs
// fail to install, which is fine: charon logs their keys before trying.
// Recorded per case: every IKE datagram from the capture (the tests pull nonces, SPIs and KE
// values out of those bytes themselves) and, from charon's key log (ike = 4, chd = 4), the DH
// secrets, SKEYSEEDs, SK_* and CHILD_SA keys. --keep leaves the work directory for inspection.
// Namespaces and charon processes are removed on exit, also on failure.

import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const OUT = path.join(HERE, 'charon-vectors.ts');
const KEEP = process.argv.includes('--keep');

const PSK = 'iiptran-charon-known-answer-psk';
const ADDR_I = '10.231.77.1';
const ADDR_R = '10.231.77.2';
const ID_I = 'init.iiptran.test';
const ID_R = 'resp.iiptran.test';

// name, IKE proposal, ESP proposal for the IKE_AUTH child, ESP proposal (with a DH group) for the
// CREATE_CHILD_SA child, authentication. Together they exercise every IKE ENCR/INTEG/PRF/DH the
// router offers, PSK, and raw public keys: Ed25519 and ECDSA P-256 with RFC 7427 (method 14),
// and ECDSA with RFC 4754 (method 9, what charon does with signature_authentication = no).
const CASES = [
  ['gcm256-sha256-x25519', 'aes256gcm16-prfsha256-curve25519', 'aes128gcm16', 'aes256gcm16-curve25519'],
  ['cbc128-sha256-p256', 'aes128-sha256-ecp256', 'aes256gcm16', 'chacha20poly1305-ecp256'],
  ['chacha-sha384-p256', 'chacha20poly1305-prfsha384-ecp256', 'chacha20poly1305', 'aes128gcm16-ecp256'],
  ['cbc256-sha384-x25519', 'aes256-sha384-curve25519', 'aes128gcm16', 'aes128gcm16-curve25519'],
  ['gcm128-sha384-p256', 'aes128gcm16-prfsha384-ecp256', 'aes256gcm16', 'aes256gcm16-ecp256'],
  ['rpk-ed25519', 'aes128gcm16-prfsha256-curve25519', 'aes128gcm16', 'aes128gcm16-curve25519', 'ed25519'],
  ['rpk-ecdsa', 'aes256-sha256-ecp256', 'aes256gcm16', 'aes256gcm16-ecp256', 'ecdsa'],
  ['rpk-ecdsa-m9', 'aes256gcm16-prfsha384-ecp256', 'chacha20poly1305', 'chacha20poly1305-ecp256', 'ecdsa-m9'],
].map(([name, ike, esp, pfs, auth = 'psk']) => ({ name, ike, esp, pfs, auth }));

const sh = (cmd, args, opts = {}) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...opts });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const tag = `iitkg${process.pid % 100000}`;
const NS_I = `${tag}i`;
const NS_R = `${tag}r`;
const children = [];

function cleanup() {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) try { process.kill(c.pid, 'SIGTERM'); } catch { /* gone */ }
  for (const ns of [NS_I, NS_R]) try { execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' }); } catch { /* gone */ }
}
process.on('exit', cleanup);
for (const s of ['SIGINT', 'SIGTERM']) process.on(s, () => process.exit(1));

function strongswanConf(dir, auth) {
  return `charon {
  signature_authentication = ${auth === 'ecdsa-m9' ? 'no' : 'yes'}
  load_modular = no
  load = random nonce openssl aes sha1 sha2 hmac gcm chapoly curve25519 kdf pem pkcs1 pkcs8 x509 pubkey kernel-netlink socket-default vici
  install_routes = no
  install_virtual_ip = no
  retransmit_tries = 2
  plugins { vici { socket = unix://${dir}/charon.vici } }
  filelog {
    keys {
      path = ${dir}/charon.log
      default = 1
      ike = 4
      chd = 4
      flush_line = yes
    }
  }
}
`;
}

function swanctlConf(me, peer, myId, peerId, ikeProp, espProp, pfsProp, auth, dir, peerDir) {
  const rpk = auth !== 'psk';
  // charon finds a raw key's private half through the identity it derives from the key itself
  // (ID_KEY_ID, the SHA-1 of the public key), so those cases leave id unset.
  const authLines = (d) => (rpk ? `auth = pubkey\n      pubkeys = ${d}/own.pub.pem` : 'auth = psk');
  return `connections {
  v {
    version = 2
    local_addrs = ${me}
    remote_addrs = ${peer}
    proposals = ${ikeProp}
    mobike = no
    fragmentation = no
    local { ${authLines(dir)}${rpk ? '' : `\n      id = ${myId}`} }
    remote { ${authLines(peerDir)}${rpk ? '' : `\n      id = ${peerId}`} }
    children {
      c { mode = transport
        local_ts = dynamic[ipencap]
        remote_ts = dynamic[ipencap]
        esp_proposals = ${espProp} }
      p { mode = transport
        local_ts = dynamic[47]
        remote_ts = dynamic[47]
        esp_proposals = ${pfsProp} }
    }
  }
}
secrets {
  ${rpk ? '' : `ike-v { id-a = ${ID_I}
    id-b = ${ID_R}
    secret = "${PSK}" }`}
}
`;
}

async function startCharon(ns, dir) {
  fs.mkdirSync(path.join(dir, 'run'), { recursive: true });
  const log = fs.openSync(path.join(dir, 'stdout.log'), 'a');
  const c = spawn('ip', ['netns', 'exec', ns, 'unshare', '-m', 'sh', '-c',
    `mount --bind ${dir}/run /run && exec env STRONGSWAN_CONF=${dir}/strongswan.conf /usr/lib/ipsec/charon`],
  { stdio: ['ignore', log, log] });
  children.push(c);
  for (let i = 0; i < 100 && !fs.existsSync(path.join(dir, 'charon.vici')); i++) await sleep(100);
  if (!fs.existsSync(path.join(dir, 'charon.vici'))) throw new Error(`charon in ${ns} did not start; see ${dir}`);
  sh('swanctl', ['--load-all', '--uri', `unix://${dir}/charon.vici`, '--noprompt', '--file', `${dir}/swanctl.conf`],
    { env: { ...process.env, SWANCTL_DIR: dir } });
  return c;
}

function swanctl(dir, args) {
  try {
    // swanctl wants the command first and --uri after it.
    return sh('swanctl', [args[0], '--uri', `unix://${dir}/charon.vici`, ...args.slice(1)], { timeout: 20000 });
  } catch (e) {
    // Failing CHILD_SA installs make --initiate exit non-zero; the exchange itself still ran.
    return String(e.stdout ?? '') + String(e.stderr ?? '');
  }
}

async function stop(c) {
  if (c.exitCode !== null || c.signalCode !== null) return;
  const done = new Promise((r) => c.once('exit', r));
  process.kill(c.pid, 'SIGTERM');
  await Promise.race([done, sleep(5000)]);
}

/** IKE datagrams (UDP 500, or 4500 minus the non-ESP marker) in capture order. */
function ikeFromPcap(file) {
  const b = fs.readFileSync(file);
  if (b.readUInt32LE(0) !== 0xa1b2c3d4) throw new Error('expected a little-endian microsecond pcap');
  const l2 = { 1: 14, 113: 16 }[b.readUInt32LE(20)];
  const out = [];
  for (let o = 24; o + 16 <= b.length;) {
    const incl = b.readUInt32LE(o + 8);
    const f = b.subarray(o + 16, o + 16 + incl);
    o += 16 + incl;
    if (f.readUInt16BE(l2 - 2) !== 0x0800) continue;
    const ip = f.subarray(l2);
    if (ip[9] !== 17) continue;
    const u = ip.subarray((ip[0] & 15) * 4, ip.readUInt16BE(2));
    const sport = u.readUInt16BE(0);
    let p = u.subarray(8, u.readUInt16BE(4));
    if (sport === 4500) { if (p.length < 4 || p.readUInt32BE(0) !== 0) continue; p = p.subarray(4); }
    else if (sport !== 500) continue;
    const src = `${ip[12]}.${ip[13]}.${ip[14]}.${ip[15]}`;
    out.push({ from: src === ADDR_I ? 'i' : 'r', hex: p.toString('hex') });
  }
  return out;
}

/**
 * charon's %B dumps: a "<label> => N bytes @ 0x..." line followed by "   0: hex hex ..." lines.
 * Returns [label, hex] in log order.
 */
function keyDumps(file) {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const out = [];
  for (let i = 0; i < lines.length; i++) {
    const m = /\[(IKE|CHD)\] (.*?) => (\d+) bytes @ (?:0x)?[0-9a-f]+\s*$/.exec(lines[i]);
    if (!m) continue;
    const n = Number(m[3]);
    let hex = '';
    for (let j = i + 1; j < lines.length && hex.length < 2 * n; j++) {
      const d = /\[(?:IKE|CHD)\]\s+\d+: ((?:[0-9A-F]{2} ?)+)/.exec(lines[j]);
      if (!d) break;
      hex += d[1].replace(/\s+/g, '').toLowerCase();
    }
    if (hex.length !== 2 * n) throw new Error(`short dump for ${m[2]} in ${file}`);
    // NAT-D hashes are noise for key-schedule tests.
    if (!/natd|_hash$/.test(m[2])) out.push([m[2].trim(), hex]);
  }
  return out;
}

async function runCase({ name, ike: ikeProp, esp: espProp, pfs: pfsProp, auth }) {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), `iit-charon-${name}-`));
  const dI = path.join(work, 'i');
  const dR = path.join(work, 'r');
  const pubs = {};
  for (const [d, me, peer, myId, peerId, peerDir] of [[dI, ADDR_I, ADDR_R, ID_I, ID_R, dR], [dR, ADDR_R, ADDR_I, ID_R, ID_I, dI]]) {
    fs.mkdirSync(d, { recursive: true });
    if (auth !== 'psk') {
      // A raw key pair per side (RFC 7670): no certificates, the peer's SPKI is configured.
      const alg = auth === 'ed25519' ? ['-algorithm', 'ed25519'] : ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'];
      // swanctl reads private keys only from $SWANCTL_DIR/pkcs8 (secrets.* just holds passphrases).
      fs.mkdirSync(`${d}/pkcs8`, { recursive: true });
      sh('openssl', ['genpkey', ...alg, '-out', `${d}/pkcs8/own.key.pem`]);
      fs.symlinkSync(`${d}/pkcs8/own.key.pem`, `${d}/own.key.pem`);
      sh('openssl', ['pkey', '-in', `${d}/own.key.pem`, '-pubout', '-out', `${d}/own.pub.pem`]);
      pubs[d === dI ? 'pubI' : 'pubR'] = execFileSync('openssl', ['pkey', '-in', `${d}/own.key.pem`, '-pubout', '-outform', 'DER']).toString('hex');
    }
    fs.writeFileSync(path.join(d, 'strongswan.conf'), strongswanConf(d, auth));
    fs.writeFileSync(path.join(d, 'swanctl.conf'), swanctlConf(me, peer, myId, peerId, ikeProp, espProp, pfsProp, auth, d, peerDir));
  }
  for (const ns of [NS_I, NS_R]) { sh('ip', ['netns', 'add', ns]); sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']); }
  sh('ip', ['link', 'add', 'kgi', 'netns', NS_I, 'type', 'veth', 'peer', 'name', 'kgr', 'netns', NS_R]);
  sh('ip', ['-n', NS_I, 'addr', 'add', `${ADDR_I}/24`, 'dev', 'kgi']);
  sh('ip', ['-n', NS_R, 'addr', 'add', `${ADDR_R}/24`, 'dev', 'kgr']);
  sh('ip', ['-n', NS_I, 'link', 'set', 'kgi', 'up']);
  sh('ip', ['-n', NS_R, 'link', 'set', 'kgr', 'up']);

  const pcap = path.join(work, 'ike.pcap');
  const td = spawn('ip', ['netns', 'exec', NS_I, 'tcpdump', '--immediate-mode', '-U', '-n', '-s', '0', '-i', 'kgi', '-w', pcap, 'udp port 500 or udp port 4500'],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(td);
  let tdErr = '';
  td.stderr.on('data', (d) => (tdErr += d));
  for (let i = 0; i < 100 && !tdErr.includes('listening on'); i++) await sleep(50);

  const cR = await startCharon(NS_R, dR);
  const cI = await startCharon(NS_I, dI);
  swanctl(dI, ['--initiate', '--ike', 'v', '--child', 'c', '--timeout', '10']);
  await sleep(500);
  swanctl(dI, ['--initiate', '--ike', 'v', '--child', 'p', '--timeout', '10']);
  await sleep(500);
  swanctl(dI, ['--rekey', '--ike', 'v']);
  await sleep(1500);
  const sas = swanctl(dI, ['--list-sas']);
  await sleep(300);
  const tdDone = new Promise((r) => td.once('exit', r));
  td.kill('SIGINT');
  await tdDone;
  await stop(cI);
  await stop(cR);
  cleanup();
  children.length = 0;

  const messages = ikeFromPcap(pcap);
  const logI = keyDumps(path.join(dI, 'charon.log'));
  const logR = keyDumps(path.join(dR, 'charon.log'));
  // Both peers must have derived the same IKE SA secrets; a mismatch means the parse is off.
  const ikeSecrets = (log) => JSON.stringify(log.filter(([l]) => /^(SKEYSEED|Sk_\w+ secret)$/.test(l)));
  if (ikeSecrets(logI) !== ikeSecrets(logR)) throw new Error(`${name}: initiator and responder IKE key logs differ`);
  if (!KEEP) fs.rmSync(work, { recursive: true, force: true });
  else console.log(`${name}: kept ${work}`);
  console.log(`${name}: ${messages.length} IKE datagrams, ${logI.length} key dumps; final SAs:\n${sas.trim()}`);
  return { name, auth, ...pubs, ikeProposal: ikeProp, espProposal: espProp, pfsEspProposal: pfsProp, messages, keyLogI: logI, keyLogR: logR };
}

const results = [];
for (const c of CASES) results.push(await runCase(c));

const header = `// GENERATED by gen-charon-vectors.mjs from strongSwan charon ${sh('dpkg-query', ['-W', '-f', '${Version}', 'strongswan-charon']).trim()} — do not edit.
// messages: every IKE datagram of one run, in capture order ('i' = sent by the original initiator).
// keyLogI/keyLogR: the initiator's / responder's hex dumps at ike = 4 / chd = 4, labels verbatim, in
// log order. Only the responder logs the IKE_AUTH CHILD_SA keys: its install fails first, so it
// answers NO_PROPOSAL_CHOSEN and the initiator never derives them.
`;
const body = `export interface CharonVector {
  name: string;
  /** 'psk', or raw public keys: 'ed25519' / 'ecdsa' (AUTH method 14), 'ecdsa-m9' (method 9). */
  auth: 'psk' | 'ed25519' | 'ecdsa' | 'ecdsa-m9';
  /** SubjectPublicKeyInfo DER (hex) of each side's raw public key, for the public-key cases. */
  pubI?: string;
  pubR?: string;
  psk: string;
  idI: string;
  idR: string;
  ikeProposal: string;
  espProposal: string;
  pfsEspProposal: string;
  messages: { from: 'i' | 'r'; hex: string }[];
  keyLogI: [string, string][];
  keyLogR: [string, string][];
}

export const CHARON_VECTORS: CharonVector[] = ${JSON.stringify(results.map((r) => ({ ...r, psk: PSK, idI: ID_I, idR: ID_R })), null, 2)};
`;
fs.writeFileSync(OUT, header + '\n' + body);
console.log(`wrote ${OUT}`);
