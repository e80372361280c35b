// Topology problems are reported all at once, each naming its field path, so a user fixes a
// file in one pass instead of one error per run.

import { IiptranError } from '../errors.js';

export interface TopologyProblem {
  /** Path of the offending field, e.g. `underlay[2].ends[1]`. */
  field: string;
  problem: string;
  line?: number;
}

export class TopologyError extends IiptranError {
  readonly problems: readonly TopologyProblem[];
  constructor(problems: readonly TopologyProblem[], file?: string) {
    const first = problems[0] ?? { field: '(topology)', problem: 'invalid' };
    const prefix = file ? `${file}: ` : '';
    const fmt = (p: TopologyProblem) => `${p.field}: ${p.problem}${p.line === undefined ? '' : ` (line ${p.line})`}`;
    super(
      'IIPTRAN_ERR_TOPOLOGY',
      problems.length <= 1 ? prefix + fmt(first) : `${prefix}${problems.length} problems:\n` + problems.map((p) => '  ' + fmt(p)).join('\n'),
      { field: first.field },
    );
    this.name = 'TopologyError';
    this.problems = problems;
  }
}
