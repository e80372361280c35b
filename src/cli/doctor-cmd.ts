// `iiptran doctor [--json]`: checks this machine for what the daemon, the labs and the tests need.
// Parsing and printing only; the checks are in src/tools/doctor-checks.ts.

import type { Argv, CommandModule } from 'yargs';
import { IiptranError } from '../errors.js';
import { DEFAULT_CHECK_TIMEOUT_MS, doctorExitCode, renderDoctor, runDoctor } from '../tools/doctor.js';
import { doctorChecks } from '../tools/doctor-checks.js';

interface DoctorArgs {
  json: boolean;
  timeout: number;
}

export const doctorCommand: CommandModule<object, DoctorArgs> = {
  command: 'doctor',
  describe: 'Check this machine for what the daemon, labs and tests need (root, TUN, netns, nftables, BIRD, charon and its plugins, tshark, node, the addon); one row per check with its fix',
  builder: (y: Argv) =>
    y
      .option('json', { type: 'boolean', default: false, describe: 'print {schema, ok, rows: [{name, status, detail, fix}]}' })
      .option('timeout', { type: 'number', default: DEFAULT_CHECK_TIMEOUT_MS / 1000, describe: 'seconds each check may take before it counts as failed (starting charon gets at least 15)' })
      .epilogue('Status: ok, warn (optional: benchmark peers, addon rebuild tools; or not checked without root) or fail. Exit 0 when no check fails, 1 otherwise. scripts/setup.sh installs every package named in a fix and ends by running this.')
      .example('$0 doctor', 'table of checks; exit 1 if a required one fails')
      .example('$0 doctor --json | jq -r \'.rows[] | select(.status != "ok") | .fix\'', 'just the fixes'),
  handler: async (a) => {
    if (!(a.timeout > 0)) throw new IiptranError('IIPTRAN_ERR_USAGE', `--timeout: must be a positive number of seconds, got ${a.timeout}`);
    const r = await runDoctor(doctorChecks(), a.timeout * 1000);
    process.stdout.write((a.json ? JSON.stringify(r, null, 2) : renderDoctor(r)) + '\n');
    process.exitCode = doctorExitCode(r.rows);
  },
};
