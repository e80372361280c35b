// One error hierarchy with stable codes (undici/fastify style). Codes are part of the public
// interface: scripts match on them, so never rename one; add new ones instead. Every code is
// documented in README.md under "Error codes".

export type ErrorCode =
  | 'IIPTRAN_ERR_CONFIG'          // config file missing, unparsable or invalid; message names the field
  | 'IIPTRAN_ERR_KEYFILE'         // key file missing, wrong length, or unsafe permissions
  | 'IIPTRAN_ERR_TOPOLOGY'        // topology file invalid
  | 'IIPTRAN_ERR_NATIVE'          // native addon missing or a system call failed
  | 'IIPTRAN_ERR_CONTROL'         // control socket unreachable or protocol error
  | 'IIPTRAN_ERR_CODEC'           // a codec was asked to encode an impossible value
  | 'IIPTRAN_ERR_LAB'             // lab launcher failure
  | 'IIPTRAN_ERR_GUARD'           // the fail-closed guard (nft table, unreachable routes) could not be installed, read or removed
  | 'IIPTRAN_ERR_USAGE'           // bad command-line usage
  | 'IIPTRAN_ERR_INTERNAL';       // an internal invariant broke (a bug, never input)

export class IiptranError extends Error {
  readonly code: ErrorCode;
  /** Dotted path of the offending field (config errors), when there is one. */
  readonly field: string | undefined;
  constructor(code: ErrorCode, message: string, opts: { field?: string; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'IiptranError';
    this.code = code;
    this.field = opts.field;
  }
}

export class ConfigError extends IiptranError {
  /** `code`: topology files are validated by the same schema module, under their own code. */
  constructor(field: string, problem: string, file?: string, code: ErrorCode = 'IIPTRAN_ERR_CONFIG') {
    super(code, `${file ? file + ': ' : ''}${field}: ${problem}`, { field });
    this.name = 'ConfigError';
  }
}

export class KeyFileError extends IiptranError {
  constructor(path: string, problem: string, field?: string) {
    super('IIPTRAN_ERR_KEYFILE', `key file ${path}: ${problem}`, field === undefined ? {} : { field });
    this.name = 'KeyFileError';
  }
}

export class NativeError extends IiptranError {
  readonly errno: number;
  constructor(op: string, errno: number, detail: string) {
    super('IIPTRAN_ERR_NATIVE', `${op}: ${detail} (errno ${errno})`);
    this.name = 'NativeError';
    this.errno = errno;
  }
}

export class ControlError extends IiptranError {
  constructor(message: string, cause?: unknown) {
    super('IIPTRAN_ERR_CONTROL', message, { cause });
    this.name = 'ControlError';
  }
}

export class CodecError extends IiptranError {
  constructor(message: string) {
    super('IIPTRAN_ERR_CODEC', message);
    this.name = 'CodecError';
  }
}
