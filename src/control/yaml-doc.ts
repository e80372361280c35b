// One YAML front end for every file a user writes (node configs, lab topologies): parsing
// with an alias limit, line lookup for a field path, and the one error class that carries
// every problem found, so a file is fixed in one pass instead of one error per run.

import { LineCounter, isAlias, isMap, isScalar, isSeq, parseDocument, type Document, type Node as YamlNode } from 'yaml';
import { ConfigError } from '../errors.js';

/** The error code says which kind of file was refused; the class is the same for both. */
export type SchemaCode = 'IIPTRAN_ERR_CONFIG' | 'IIPTRAN_ERR_TOPOLOGY';

export interface ConfigProblem {
  /** Path of the offending field, e.g. `vlinks[1].keying.spi_in`. */
  field: string;
  problem: string;
  /** 1-based line in the YAML source, when the field (or its parent) exists there. */
  line?: number;
}

export type Path = (string | number)[];

/** What an empty path is called in messages: the whole file. */
export function rootName(code: SchemaCode): string {
  return code === 'IIPTRAN_ERR_TOPOLOGY' ? '(topology)' : '(config)';
}

export function formatPath(path: Path, root = '(config)'): string {
  let out = '';
  for (const seg of path) out += typeof seg === 'number' ? `[${seg}]` : out === '' ? seg : `.${seg}`;
  return out === '' ? root : out;
}

function formatProblem(p: ConfigProblem): string {
  return `${p.field}: ${p.problem}${p.line === undefined ? '' : ` (line ${p.line})`}`;
}

/**
 * All problems found in one file. `field` and the first line of the message describe the first
 * problem so code written against plain ConfigError keeps working; `problems` (alias `errors`)
 * has all of them. A topology file's problems are the same class under IIPTRAN_ERR_TOPOLOGY.
 */
export class ConfigErrors extends ConfigError {
  readonly problems: readonly ConfigProblem[];
  readonly file: string | undefined;
  constructor(problems: readonly ConfigProblem[], file?: string, code: SchemaCode = 'IIPTRAN_ERR_CONFIG') {
    const first = problems[0] ?? { field: rootName(code), problem: 'invalid' };
    super(first.field, first.problem, file, code);
    this.name = code === 'IIPTRAN_ERR_TOPOLOGY' ? 'TopologyError' : 'ConfigErrors';
    this.problems = problems;
    this.file = file;
    const prefix = file ? `${file}: ` : '';
    this.message = problems.length <= 1
      ? prefix + formatProblem(first)
      : `${prefix}${problems.length} problems:\n` + problems.map((e) => '  ' + formatProblem(e)).join('\n');
  }

  get errors(): readonly ConfigProblem[] {
    return this.problems;
  }
}

/** A parsed document, its line table, and its data. */
export interface YamlSource {
  doc: Document;
  lines: LineCounter;
  raw: unknown;
}

// An alias bomb (a few lines expanding to billions of nodes) stops here.
const MAX_ALIAS_COUNT = 100;

/** Parses `text`; syntax errors and alias bombs become one ConfigErrors under `code`. */
export function parseYaml(text: string, file: string | undefined, code: SchemaCode): YamlSource {
  const lines = new LineCounter();
  // prettyErrors would embed a source excerpt in every message; we want one line per problem.
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true, version: '1.2', logLevel: 'error' });
  if (doc.errors.length > 0) {
    throw new ConfigErrors(
      doc.errors.map((e) => {
        const { line, col } = lines.linePos(e.pos[0]);
        return { field: '(yaml)', problem: `syntax error at line ${line}, column ${col}: ${firstLine(e.message)}` };
      }),
      file,
      code,
    );
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (e) {
    throw new ConfigErrors([{ field: '(yaml)', problem: yamlToJsProblem(e) }], file, code);
  }
  return { doc, lines, raw };
}

/** Why the yaml library refused to build the data of a document it had parsed. */
export function yamlToJsProblem(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return /alias count/i.test(msg)
    ? `aliases expand to too many nodes (${msg}); refusing the file`
    : `cannot be read as data: ${firstLine(msg)}`;
}

function firstLine(s: string): string {
  const i = s.indexOf('\n');
  return (i < 0 ? s : s.slice(0, i)).replace(/ at line \d+, column \d+:?$/, '');
}

/** Line of the deepest node along `path` that exists in the source, following aliases. */
export function lineOf(src: YamlSource, path: Path): number | undefined {
  let node: unknown = src.doc.contents;
  const rangeOf = (n: unknown) => (n as { range?: [number, number, number] } | null)?.range?.[0];
  let offset = rangeOf(node);
  for (const seg of path) {
    if (isAlias(node)) node = node.resolve(src.doc);
    let next: unknown;
    if (isMap(node)) {
      const pair = node.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === seg);
      if (pair === undefined) break;
      next = pair.value ?? pair.key;
      offset = rangeOf(pair.key) ?? offset;
    } else if (isSeq(node) && typeof seg === 'number') {
      next = node.items[seg];
      if (next === undefined) break;
    } else break;
    offset = rangeOf(next) ?? offset;
    node = next as YamlNode;
  }
  return offset === undefined ? undefined : src.lines.linePos(offset).line;
}
