import { randomBytes } from 'node:crypto';
import { closeSync, constants, fchmodSync, fstatSync, fsyncSync, linkSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { KeyFileError } from '../errors.js';
import { KEY_SIZES, type Suite } from '../dataplane/suite.js';

export { KEY_SIZES };

export interface KeyMaterial {
  key: Buffer;
  salt: Buffer;
}

function sizes(suite: Suite, path: string): { key: number; salt: number } {
  const s = KEY_SIZES[suite];
  if (s === undefined) throw new KeyFileError(path, `unknown suite ${JSON.stringify(suite)}; expected one of ${Object.keys(KEY_SIZES).join(', ')}`);
  return s;
}

function octal(mode: number): string {
  return '0' + (mode & 0o777).toString(8).padStart(3, '0');
}

/**
 * Reads and checks a key file. The file is opened once and every check runs on that descriptor,
 * so a file swapped between the checks and the read cannot slip through.
 */
export function loadKeyFile(path: string, suite: Suite): KeyMaterial {
  sizes(suite, path);
  return withSecretFile(path, 'the key_in/key_out path', (raw) => parseKeyMaterial(raw, suite, path));
}

/**
 * Opens a secret (key file, PSK file) with the checks every secret gets: a regular file, no
 * group or other permission bits, owned by us or root. `use` sees the content, which is wiped
 * afterwards, so it must copy what it keeps. `pathHint` names the config field in the message
 * for a missing file.
 */
export function withSecretFile<T>(path: string, pathHint: string, use: (raw: Buffer) => T): T {
  let fd: number;
  try {
    // O_NONBLOCK so a FIFO planted at the path fails the regular-file check instead of hanging.
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new KeyFileError(path, `does not exist; check ${pathHint} (relative paths are resolved against the config file's directory)`);
    if (code === 'EACCES') throw new KeyFileError(path, 'is not readable by this process (permission denied); it must be owned by the user running iiptran');
    throw new KeyFileError(path, `cannot be opened (${code ?? String(err)})`);
  }
  let raw: Buffer | undefined;
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new KeyFileError(path, `is not a regular file (${st.isDirectory() ? 'it is a directory' : 'it is a device, FIFO or socket'})`);
    if ((st.mode & 0o077) !== 0) {
      throw new KeyFileError(path, `mode ${octal(st.mode)} is too open; run chmod 600 ${path}`);
    }
    const uid = process.getuid?.();
    if (uid !== undefined && st.uid !== uid && st.uid !== 0) {
      throw new KeyFileError(path, `is owned by uid ${st.uid}, but iiptran runs as uid ${uid}; only the owner or root may control a key file (run chown ${uid} ${path})`);
    }
    raw = readFileSync(fd);
    return use(raw);
  } finally {
    raw?.fill(0);
    closeSync(fd);
  }
}

const HEX: Record<number, number> = {};
for (let i = 0; i < 16; i++) {
  HEX['0123456789abcdef'.charCodeAt(i)] = i;
  HEX['0123456789ABCDEF'.charCodeAt(i)] = i;
}

/**
 * Parses key-file text: hex of key||salt, any whitespace, `#` comments to end of line, and an
 * optional 0x prefix on each hex word. Works on bytes so key material never becomes a JS string,
 * which could not be wiped. Error messages give positions, never the offending characters.
 */
export function parseKeyMaterial(text: Buffer | string, suite: Suite, path = '(inline)'): KeyMaterial {
  const want = sizes(suite, path);
  const total = want.key + want.salt;
  const src = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  // Room for one byte too many, so a long file reports its real length below.
  const out = Buffer.alloc(Math.ceil(src.length / 2) + 1);
  let nibbles = 0;
  let line = 1;
  let col = 0;
  let wordStart = true;
  try {
    for (let i = 0; i < src.length; i++) {
      const c = src[i]!;
      col++;
      if (c === 0x0a) { line++; col = 0; wordStart = true; continue; }
      if (c === 0x20 || c === 0x09 || c === 0x0d) { wordStart = true; continue; }
      if (c === 0x23 /* # */) {
        while (i + 1 < src.length && src[i + 1] !== 0x0a) i++;
        continue;
      }
      if (wordStart && c === 0x30 && (src[i + 1] === 0x78 || src[i + 1] === 0x58)) {
        i++; col++; wordStart = false;
        continue;
      }
      wordStart = false;
      const v = HEX[c];
      if (v === undefined) {
        throw new KeyFileError(path, `line ${line}, column ${col}: not a hex digit; a key file holds only hex digits, whitespace and # comments`);
      }
      if (nibbles % 2 === 0) out[nibbles >> 1] = v << 4;
      else out[nibbles >> 1]! |= v;
      nibbles++;
    }
    if (nibbles % 2 !== 0) throw new KeyFileError(path, `has an odd number of hex digits (${nibbles}); each byte needs two`);
    const got = nibbles / 2;
    if (got !== total) {
      throw new KeyFileError(path, `wrong length for ${suite}: expected ${total} bytes (${want.key}-byte key + ${want.salt}-byte salt, ${total * 2} hex digits), got ${got} bytes`);
    }
    return { key: Buffer.from(out.subarray(0, want.key)), salt: Buffer.from(out.subarray(want.key, total)) };
  } finally {
    out.fill(0);
  }
}

/** Fresh random key||salt for `suite`, as lowercase hex without prefix. */
export function generateKeyHex(suite: Suite): string {
  const s = sizes(suite, '(generated)');
  const b = randomBytes(s.key + s.salt);
  try {
    return b.toString('hex');
  } finally {
    b.fill(0);
  }
}

export interface WriteKeyFileOptions {
  /** Key material to write (e.g. the same key for both ends of an SA); default: freshly generated. */
  hex?: string;
  /** Replace an existing file. Default false: losing a key by accident cuts a link. */
  overwrite?: boolean;
}

/**
 * Creates a key file with mode 0600. The content goes to a private temp file in the same
 * directory first and is then linked (or, with overwrite, renamed) into place, so the path
 * never holds a partial key and the key is never readable by anyone else, not even briefly.
 */
export function writeKeyFile(path: string, suite: Suite, opts: WriteKeyFileOptions = {}): void {
  const s = sizes(suite, path);
  const hex = opts.hex ?? generateKeyHex(suite);
  parseKeyMaterial(hex, suite, path); // refuse to write something loadKeyFile would reject
  const body = Buffer.from(
    `# iiptran ${suite} key||salt (${s.key}+${s.salt} bytes, RFC ${suite === 'chacha20-poly1305' ? '7634' : '4106'})\n${hex}\n`,
    'utf8',
  );
  writeSecretFile(path, body, opts.overwrite === true);
}

/**
 * Writes any secret (key file, private key) the way writeKeyFile does: 0600 from creation on,
 * linked into place whole. `body` is wiped afterwards.
 */
export function writeSecretFile(path: string, body: Buffer, overwrite = false): void {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  let fd: number | undefined;
  try {
    try {
      fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new KeyFileError(path, code === 'ENOENT'
        ? `cannot be created: directory ${dirname(path)} does not exist`
        : `cannot be created (${code ?? String(err)})`);
    }
    // umask can only clear bits, but a umask of 0377 would leave the file unreadable to us.
    fchmodSync(fd, 0o600);
    writeSync(fd, body);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    if (overwrite) {
      renameSync(tmp, path);
    } else {
      try {
        linkSync(tmp, path);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        throw new KeyFileError(path, code === 'EEXIST'
          ? 'already exists; refusing to overwrite a key (delete it first, or pass overwrite)'
          : `cannot be created (${code ?? String(err)})`);
      }
      unlinkSync(tmp);
    }
  } finally {
    body.fill(0);
    if (fd !== undefined) closeSync(fd);
    try { unlinkSync(tmp); } catch { /* already linked/renamed away */ }
  }
}
