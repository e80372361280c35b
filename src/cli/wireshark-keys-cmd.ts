// `iiptran show sas --wireshark DIR` and `show ike --wireshark DIR`: the running node's SA keys
// as Wireshark's own key tables (DIR/esp_sa, DIR/ikev2_decryption_table), so that
// `tshark -o uat:... ` or WIRESHARK_CONFIG_DIR=DIR decrypts a capture of this node's traffic.
// Secrets leave the daemon here: the files are 0600 in a 0700 directory, and stderr says so.

import fs from 'node:fs';
import path from 'node:path';
import { controlCall } from '../control/control-client.js';
import type { EspSecret, IkeSecret } from '../control/key-export.js';
import { IiptranError } from '../errors.js';

export const ESP_SA_FILE = 'esp_sa';
export const IKE_TABLE_FILE = 'ikev2_decryption_table';

const q = (s: string) => `"${s}"`;

/** One esp_sa UAT line: protocol, source, destination, SPI, cipher, key, authentication, its key. */
export function espSaLine(s: EspSecret): string {
  return [q('IPv4'), q(s.src), q(s.dst), q(s.spi), q(s.wireshark!), q(`0x${s.key}`), q('NULL'), q('')].join(',');
}

/** One ikev2_decryption_table line: byte fields are bare hex, names quoted (Wireshark's UAT). */
export function ikeTableLine(s: IkeSecret): string {
  const aead = s.wiresharkInteg.startsWith('NONE');
  return [s.spiI, s.spiR, s.skEi, s.skEr, q(s.wiresharkEncr!), aead ? '' : s.skAi, aead ? '' : s.skAr, q(s.wiresharkInteg)].join(',');
}

/** The identity of a line (the SA it keys): esp by addresses and SPI, ike by the two SPIs. */
function lineKey(file: string, line: string): string {
  const f = line.split(',');
  return file === ESP_SA_FILE ? f.slice(0, 4).join(',') : f.slice(0, 2).join(',');
}

/**
 * Merges `lines` into DIR/FILE: an SA already there is replaced, others are kept, so exports
 * taken before and after a rekey together decrypt a capture that spans it.
 */
export function mergeKeyFile(dir: string, file: string, lines: string[]): string {
  if (!fs.existsSync(dir)) fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const target = path.join(dir, file);
  let old: string[] = [];
  try {
    old = fs.readFileSync(target, 'utf8').split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
  } catch {
    /* first export */
  }
  const fresh = new Set(lines.map((l) => lineKey(file, l)));
  const all = [...old.filter((l) => !fresh.has(lineKey(file, l))), ...lines];
  const tmp = `${target}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, `# ${file} written by iiptran: SECRET KEYS, delete when done\n${all.join('\n')}\n`, { mode: 0o600 });
  fs.renameSync(tmp, target);
  return target;
}

export async function exportWiresharkKeys(o: { sock: string; what: string; dir: string; json: boolean }): Promise<void> {
  if (o.what !== 'sas' && o.what !== 'ike') throw new IiptranError('IIPTRAN_ERR_USAGE', `--wireshark works with show sas (ESP keys) and show ike (IKE keys), not show ${o.what}`);
  process.stderr.write(
    `iiptran: WARNING: writing secret ${o.what === 'sas' ? 'ESP' : 'IKE'} keys to ${o.dir}: whoever reads them can decrypt ` +
      `this node's traffic on those SAs${o.what === 'ike' ? ' and forge its IKE messages' : ''}. Delete the file when the capture is read.\n`,
  );
  let file: string;
  let lines: string[];
  let skipped: string[];
  if (o.what === 'sas') {
    const r = (await controlCall(o.sock, 'secrets', { what: 'esp' })) as { esp: EspSecret[] };
    const ok = r.esp.filter((s) => s.wireshark !== null);
    skipped = r.esp.filter((s) => s.wireshark === null).map((s) => `${s.vlink} ${s.dir} ${s.spi} (${s.suite})`);
    file = ESP_SA_FILE;
    lines = ok.map(espSaLine);
  } else {
    const r = (await controlCall(o.sock, 'secrets', { what: 'ike' })) as { ike: IkeSecret[] };
    const ok = r.ike.filter((s) => s.wiresharkEncr !== null);
    skipped = r.ike.filter((s) => s.wiresharkEncr === null).map((s) => `${s.vlink} ${s.spiI}_i ${s.spiR}_r (${s.suite})`);
    file = IKE_TABLE_FILE;
    lines = ok.map(ikeTableLine);
  }
  const target = mergeKeyFile(o.dir, file, lines);
  if (o.json) {
    process.stdout.write(JSON.stringify({ file: target, written: lines.length, skipped }, null, 2) + '\n');
    return;
  }
  process.stdout.write(`wrote ${lines.length} SA(s) to ${target} (mode 0600)\n`);
  if (skipped.length > 0) process.stdout.write(`not written, Wireshark cannot decrypt their cipher: ${skipped.join(', ')}\n`);
  process.stdout.write(`decrypt with: tshark -o esp.enable_encryption_decode:TRUE -r CAPTURE   (WIRESHARK_CONFIG_DIR=${o.dir}, or copy the file into your Wireshark profile)\n`);
}
