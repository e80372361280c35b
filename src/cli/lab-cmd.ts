// `iiptran lab ...`: launch and operate whole overlay topologies in network namespaces.
// Parsing and printing only; the work is in src/lab/.

import fs from 'node:fs';
import os from 'node:os';
import { spawn } from 'node:child_process';
import type { Argv, CommandModule } from 'yargs';
import { controlCall } from '../control/control-client.js';
import { IiptranError } from '../errors.js';
import { RENDERERS } from '../tools/inspector.js';
import { table } from '../lab/table.js';
import { LAB_NAME_RE, loadTopology } from '../lab/topology.js';
import { FAIL_AT_ENV, labUp } from '../lab/apply.js';
import { setLink } from '../lab/fault.js';
import { labStatus, renderStatus } from '../lab/status.js';
import { listLabs, nodeOf, readState, resolveLab } from '../lab/state.js';
import { teardown } from '../lab/teardown.js';
import { BIRD_STARTS_PER_CORE, IIPTRAN_STARTS_PER_CORE } from '../lab/waves.js';
import { SHOW_VIEWS } from './show-cmd.js';
import { labExport, labExportBuilder } from './lab-export-cmd.js';

import { guarded, labOpt, needRoot, print } from './lab-util.js';
import { labDnsCommands } from './lab-dns-cmd.js';

function labName(arg: string): string {
  if (fs.existsSync(arg) && fs.statSync(arg).isFile()) return loadTopology(arg).name;
  if (!LAB_NAME_RE.test(arg)) throw new IiptranError('IIPTRAN_ERR_USAGE', `"${arg}" is neither a topology file nor a lab name (1..12 of a-z 0-9)`);
  return arg;
}

async function up(a: { file: string; timeout?: number; cores?: number; 'keep-on-failure': boolean }): Promise<void> {
  needRoot('up');
  const failAt = process.env[FAIL_AT_ENV] || undefined;
  if (a.timeout !== undefined && !(a.timeout > 0)) throw new IiptranError('IIPTRAN_ERR_USAGE', `--timeout must be a positive number of seconds (got ${a.timeout})`);
  if (a.cores !== undefined && !(Number.isInteger(a.cores) && a.cores > 0)) throw new IiptranError('IIPTRAN_ERR_USAGE', `--cores must be a positive integer (got ${a.cores})`);
  const { state, converge, scale } = await labUp(a.file, { timeoutS: a.timeout, parallelism: a.cores, out: print, failAt });
  print('');
  print(renderStatus(converge.status, converge.reach));
  if (converge.converged) {
    print(`lab ${state.name} is up: routing converged in ${(converge.elapsedMs / 1000).toFixed(1)} s, every VN prefix answers from every node.`);
    print(`try: iiptran lab exec ${state.model.nodes[0]!.name} -- ping ${state.model.nodes.at(-1)!.name}    iiptran lab show ${state.model.nodes[0]!.name} routes    iiptran lab down ${state.name}`);
    return;
  }
  print(`lab ${state.name} did NOT converge within ${Math.round(scale.convergeMs / 1000)} s:`);
  for (const p of converge.problems) print(`  - ${p}`);
  if (a['keep-on-failure']) {
    print(`left running for inspection (iiptran lab status ${state.name}); remove it with: iiptran lab down ${state.name}`);
  } else {
    print('removing it (pass --keep-on-failure to inspect it instead)');
    await teardown(state.name);
  }
  process.exitCode = 1;
}

async function down(a: { lab: string }): Promise<void> {
  needRoot('down');
  const name = labName(a.lab);
  const r = await teardown(name);
  print(`lab ${name}: removed ${r.namespaces} namespaces, stopped ${r.processes} processes`);
}

async function status(a: { name?: string; json: boolean }): Promise<void> {
  const s = resolveLab(a.name);
  const st = await labStatus(s);
  print(a.json ? JSON.stringify(st, null, 2) : renderStatus(st));
}

async function list(a: { json: boolean }): Promise<void> {
  const labs = listLabs().map((n) => readState(n)!).filter(Boolean);
  if (a.json) print(JSON.stringify(labs.map((s) => ({ name: s.name, status: s.status, nodes: s.model.nodes.map((n) => n.name), createdAt: s.createdAt, topology: s.topologyFile, dir: s.dir })), null, 2));
  else if (labs.length === 0) print('no labs are running');
  else print(table(['LAB', 'STATUS', 'NODES', 'CREATED', 'TOPOLOGY'], labs.map((s) => [s.name, s.status, s.model.nodes.map((n) => n.name).join(','), s.createdAt, s.topologyFile])));
}

async function exec(a: { node: string; cmd: string[]; lab?: string; _?: (string | number)[] }): Promise<void> {
  const s = resolveLab(a.lab);
  const { model } = nodeOf(s, a.node);
  // yargs leaves words after `--` in `_`, behind the command path (lab exec).
  const rest = (a._ ?? []).map(String);
  const cmd = [...a.cmd.map(String), ...rest.slice(rest[0] === 'lab' && rest[1] === 'exec' ? 2 : 0)];
  if (cmd.length === 0) throw new IiptranError('IIPTRAN_ERR_USAGE', 'name a command after --, e.g. iiptran lab exec a -- ping b');
  const child = spawn('ip', ['netns', 'exec', model.ns, ...cmd], { stdio: 'inherit' });
  const code = await new Promise<number>((r) => child.on('exit', (c, sig) => r(c ?? (sig ? 128 : 1))));
  process.exitCode = code;
}

async function link(a: { a: string; b: string; state: string; lab?: string }): Promise<void> {
  needRoot('link');
  const s = resolveLab(a.lab);
  await setLink(s, a.a, a.b, a.state === 'up');
  print(`lab ${s.name}: underlay path ${a.a} <-> ${a.b} ${a.state === 'up' ? 'restored' : 'cut (nftables drop at both ends)'}`);
}

async function show(a: { node: string; what: string; json: boolean; all: boolean; lab?: string }): Promise<void> {
  const s = resolveLab(a.lab);
  const { paths } = nodeOf(s, a.node);
  const view = (await controlCall(paths.socket, 'show', { what: a.what, all: a.all })) as Record<string, unknown>;
  print(a.json ? JSON.stringify(view, null, 2) : `node ${a.node} (lab ${s.name})\n${RENDERERS[a.what]!(view)}`);
}

async function logs(a: { node: string; routing: boolean; lines: number; lab?: string }): Promise<void> {
  const s = resolveLab(a.lab);
  const { paths } = nodeOf(s, a.node);
  const file = a.routing ? (paths.birdLog ?? paths.frrLog ?? null) : paths.log;
  if (file === null) throw new IiptranError('IIPTRAN_ERR_USAGE', `node ${a.node} uses static routing: it has no routing daemon log`);
  const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  const lines = text.trimEnd().split('\n');
  print(`==> ${file} <==\n${(a.lines > 0 ? lines.slice(-a.lines) : lines).join('\n')}`);
}

export const labCommand: CommandModule = {
  command: 'lab <command>',
  describe: 'Launch and operate overlay topologies (nodes, underlay, NAT, OSPF) in network namespaces (needs root, Linux, bird2 for routing: bird, frr for routing: frr)',
  builder: (y: Argv) =>
    y
      .command(
        'up <file>',
        'Create the lab described by a topology file, start its daemons and wait until routing converges',
        (y) =>
          y
            .positional('file', { type: 'string', demandOption: true, describe: 'topology YAML (see README, "Topology labs")' })
            .option('timeout', { type: 'number', describe: 'seconds to wait for convergence (default: 60, times nodes / (8 x cores) above 8 nodes per core); more than the default also stretches the per-daemon start-up deadline' })
            .option('cores', { type: 'number', describe: `size start-up windows (${IIPTRAN_STARTS_PER_CORE} iiptran and ${BIRD_STARTS_PER_CORE} BIRD start-ups per core) and deadlines for this many cores (default: all this process may use, ${os.availableParallelism()} here)` })
            .option('keep-on-failure', { type: 'boolean', default: false, describe: 'leave a lab that did not converge running for inspection' })
            .example('$0 lab up topologies/triangle.yaml', 'three BIRD/OSPF nodes; ends with a summary table')
            .epilog(`State, configs, keys (0600) and logs go to /run/iiptran/lab/NAME/. A failing step rolls back everything created so far.\nTest hook: ${FAIL_AT_ENV}=<step> fails that step (namespaces, underlay, nat, keys, configs, daemons, routing, converge).`),
        guarded(up),
      )
      .command(
        'down <lab>',
        'Remove a lab completely (namespaces, processes, files), also after a crash',
        (y) => y.positional('lab', { type: 'string', demandOption: true, describe: 'lab name or its topology file' }).example('$0 lab down triangle', ''),
        guarded(down),
      )
      .command(
        'status [name]',
        'Nodes, daemons, vlinks with their state, OSPF adjacencies and VN routes',
        (y) => y.positional('name', { type: 'string', describe: 'lab name; default: the only running lab' }).option('json', { type: 'boolean', default: false }).example('$0 lab status triangle --json', ''),
        guarded(status),
      )
      .command('list', 'List running labs', (y) => y.option('json', { type: 'boolean', default: false }), guarded(list))
      .command(
        'exec <node> [cmd..]',
        'Run a command inside a node namespace (node names resolve to VN addresses there)',
        (y) =>
          y
            .positional('node', { type: 'string', demandOption: true })
            .positional('cmd', { type: 'string', array: true, default: [] })
            .option('lab', labOpt)
            .example('$0 lab exec a -- ping -c 3 c', 'VN ping from node a to node c')
            .example('$0 lab exec a -- ip route', "node a's kernel routes"),
        guarded(exec as (a: unknown) => Promise<void>),
      )
      .command(
        'link <a> <b> <state>',
        'Cut or restore the underlay path between two nodes (nftables drop rules at both ends)',
        (y) =>
          y
            .positional('a', { type: 'string', demandOption: true })
            .positional('b', { type: 'string', demandOption: true })
            .positional('state', { choices: ['down', 'up'] as const, demandOption: true })
            .option('lab', labOpt)
            .example('$0 lab link a b down', 'OSPF reroutes a <-> b traffic through the other nodes')
            .example('$0 lab link a b up', 'restore the direct path'),
        guarded(link as (a: unknown) => Promise<void>),
      )
      .command(
        'show <node> <what>',
        "The inspector, aimed at one node: routes joined with vlink, outer header and SA; SAs; links; policies; counters; ike; guard; dhcp",
        (y) =>
          y
            .positional('node', { type: 'string', demandOption: true })
            .positional('what', { choices: SHOW_VIEWS, demandOption: true })
            .option('json', { type: 'boolean', default: false })
            .option('all', { type: 'boolean', default: false, describe: 'routes: include routes that do not leave by a vlink' })
            .option('lab', labOpt)
            .example('$0 lab show a routes', 'which vlink and SA carry each VN route')
            .example('$0 lab show b sas --json', ''),
        guarded(show as (a: unknown) => Promise<void>),
      )
      .command(
        'logs <node>',
        "Print a node's iiptran daemon log (or its BIRD log with --routing)",
        (y) =>
          y
            .positional('node', { type: 'string', demandOption: true })
            .option('routing', { type: 'boolean', default: false, describe: 'the routing daemon log instead (BIRD, or all of the node\'s FRR daemons)' })
            .option('lines', { alias: 'n', type: 'number', default: 0, describe: 'only the last N lines' })
            .option('lab', labOpt),
        guarded(logs as (a: unknown) => Promise<void>),
      )
      .command(labDnsCommands)
      .command(
        'export <file>',
        'Write the lab as a containerlab topology (same nodes and links, the iiptran image, each node\'s config, keys and BIRD config); no root needed',
        labExportBuilder,
        guarded(labExport as (a: unknown) => Promise<void>),
      )
      .demandCommand(1, 'name a lab command; see iiptran lab --help'),
  handler: () => {},
};
