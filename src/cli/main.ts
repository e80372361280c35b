// The `iiptran` command line. Thin: parse, call, print. Exit codes: 0 ok, 1 runtime error,
// 2 usage or config error.

import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { IiptranError } from '../errors.js';
import { nodeCommand } from './node-cmd.js';
import { showCommand, SHOW_VIEWS } from './show-cmd.js';
import { genkeyCommand } from './genkey-cmd.js';
import { AUTH_KEY_TYPES, IPSECA_MATCHING, genauthkeyCommand } from './genauthkey-cmd.js';
import { checkConfigCommand } from './check-config-cmd.js';
import { demoCommand } from './demo-cmd.js';
import { labCommand } from './lab-cmd.js';
import { doctorCommand } from './doctor-cmd.js';
import { installSystemdCommand } from './install-systemd-cmd.js';
import { SUITES, type Suite } from '../dataplane/suite.js';
import { LOG_LEVELS } from '../control/config-types.js';


export async function main(argv: string[]): Promise<void> {
  try {
    await yargs(hideBin(['node', 'iiptran', ...argv]))
      .scriptName('iiptran')
      .usage('iiptran: RFC 3884 overlay router (IPIP in ESP transport mode over TUN virtual links)\n\nUsage: $0 <command> [options]')
      .command(
        'node',
        'Run one overlay node daemon (needs root: creates TUN interfaces and opens UDP 4500 / raw ESP sockets)',
        (y) =>
          y
            .option('config', { alias: 'c', type: 'string', demandOption: true, describe: 'node config file (YAML; see README "Node config reference")' })
            .option('socket', { type: 'string', describe: 'control socket path (overrides control_socket in the config)' })
            .option('log-level', { type: 'string', choices: LOG_LEVELS, describe: 'override log_level' })
            .example('$0 node --config /etc/iiptran/a.yaml', 'start node a; SIGHUP reloads, SIGTERM stops'),
        async (a) => nodeCommand({ config: a.config, socket: a.socket, logLevel: a['log-level'] }),
      )
      .command(
        'show <what>',
        'Inspect a running node through its control socket',
        (y) =>
          y
            .positional('what', {
              choices: SHOW_VIEWS,
              describe: 'links: vlinks with MTU, outer header, counters | policies: SPD | sas: SAD | routes: kernel routes joined with vlink, outer header, policy and SA | counters: every drop reason | ike: IKE SAs | guard: the fail-closed guard (vn_prefixes, unreachable routes, nft drops) | dns: named peers, resolver cache with DNSSEC verdicts | dhcp: DHCP clients (state, address, server, T1, T2, expiry) and the relay (leases routed per vlink, counters)',
            })
            .option('json', { type: 'boolean', default: false, describe: 'print the stable JSON view (schema field says its version)' })
            .option('all', { type: 'boolean', default: false, describe: 'routes: include routes that do not leave by a vlink' })
            .option('socket', { type: 'string', describe: 'control socket path' })
            .option('node', { type: 'string', describe: 'node name: uses /run/iiptran/NAME.sock' })
            .option('watch', { alias: 'w', type: 'boolean', default: false, describe: 'redraw the view every --interval seconds, like watch(1); Ctrl-C stops (with --json: one JSON document per line)' })
            .option('interval', { type: 'number', default: 1, describe: 'seconds between --watch frames (0.1..3600)' })
            .option('wireshark', { type: 'string', describe: 'sas / ike only: write the SA keys as DIR/esp_sa / DIR/ikev2_decryption_table for Wireshark (SECRETS: 0600 files, a warning on stderr; refused when control_socket_group is set)' })
            .example('$0 show routes', 'which vlink, outer header, policy and SA carries each VN route')
            .example('$0 show routes --watch', 'the same, redrawn every second until Ctrl-C')
            .example('$0 show sas --wireshark /root/ws && WIRESHARK_CONFIG_DIR=/root/ws tshark -r cap.pcap -o esp.enable_encryption_decode:TRUE', 'decrypt a capture of this node\'s ESP')
            .example('$0 show counters --json | jq .vlinks', 'drop counters for scripts')
            .example('$0 show dns', 'named peers: address in use, verdict, TTL, last problem'),
        async (a) => showCommand({ what: a.what as string, json: a.json, all: a.all, socket: a.socket, node: a.node, wireshark: a.wireshark, watch: a.watch, interval: a.interval }),
      )
      .command(
        'genkey',
        'Generate a random key file (hex key||salt, mode 0600) for manual keying',
        (y) =>
          y
            .option('suite', { type: 'string', choices: SUITES, default: 'aes-gcm-256', describe: 'ESP suite the key is for' })
            .option('out', { alias: 'o', type: 'string', describe: 'write to this file (created 0600, never overwritten); default: stdout' }),
        async (a) => genkeyCommand({ suite: a.suite as Suite, out: a.out }),
      )
      .command(
        'genauthkey',
        'Generate a key pair for IKEv2 raw public key authentication (auth: pubkey): private key 0600, public key beside it; with --ipseca, also the IPSECA record that publishes the public key in DNS',
        (y) =>
          y
            .option('type', { type: 'string', choices: AUTH_KEY_TYPES, default: 'ed25519', describe: 'key type' })
            .option('out', { alias: 'o', type: 'string', describe: 'private key file (PKCS#8 PEM, created 0600, never overwritten); the public key goes to FILE.pub. Required unless --from' })
            .option('pub', { type: 'string', describe: 'public key file instead of FILE.pub' })
            .option('from', { type: 'string', describe: 'make nothing: read this existing key (public PEM/DER SPKI, or a private key file) and print its fingerprint and, with --ipseca, its record' })
            .option('ipseca', { type: 'string', describe: 'print the IPSECA record (usage 3 DANE-EE, selector 1 SPKI) for gateway NAME (its FQDN, owner _500.NAME; or its IPv4 address, owner _500.<reverse name>), in RFC 3597 form for the zone file, the IPSECA form as a comment' })
            .option('ipseca-matching', { type: 'number', choices: IPSECA_MATCHING, describe: 'IPSECA matching type: 0 the whole SPKI, 1 SHA-256 (default), 2 SHA-512' })
            .option('json', { type: 'boolean', default: false, describe: 'print files, fingerprint and record as JSON' })
            .example('$0 genauthkey --type ed25519 -o /etc/iiptran/node-a.key', 'then copy node-a.key.pub to the peer as its peer_public_key')
            .example('$0 genauthkey -o /etc/iiptran/gw1.key --ipseca gw1.site-a.example', 'a new key and the record to paste into the site-a.example zone (then re-sign it)')
            .example('$0 genauthkey --from /etc/iiptran/gw1.key.pub --ipseca gw1.site-a.example', 'the record for a key that already exists'),
        async (a) => genauthkeyCommand({
          type: a.type as (typeof AUTH_KEY_TYPES)[number], out: a.out, pub: a.pub, from: a.from, ipseca: a.ipseca, ipsecaMatching: a['ipseca-matching'], json: a.json,
        }),
      )
      .command(
        'check-config <file>',
        'Validate a node config and its key files without starting anything; prints each vlink and its MTU',
        (y) => y.positional('file', { type: 'string', demandOption: true }).option('json', { type: 'boolean', default: false }),
        async (a) => checkConfigCommand({ file: a.file as string, json: a.json }),
      )
      .command(
        'demo',
        'Launch a two-node overlay in network namespaces, show routes, SAs and a ping across it, then remove it (needs root)',
        (y) =>
          y
            .option('suite', { type: 'string', choices: SUITES, default: 'aes-gcm-256' })
            .option('encap', { type: 'string', choices: ['udp', 'esp'] as const, default: 'udp' })
            .option('keep', { type: 'boolean', default: false, describe: 'keep the overlay running until Ctrl-C' }),
        async (a) => demoCommand({ suite: a.suite as Suite, encap: a.encap as 'udp' | 'esp', keep: a.keep }),
      )
      .command(labCommand)
      .command(doctorCommand)
      .command(installSystemdCommand)
      .demandCommand(1, 'name a command; see --help')
      .strict()
      .help()
      .alias('h', 'help')
      .version()
      .fail((msg, err, y) => {
        if (err) throw err;
        throw new IiptranError('IIPTRAN_ERR_USAGE', `${msg}\n\n${y.help()}`);
      })
      .parseAsync();
  } catch (e) {
    const err = e as IiptranError;
    process.stderr.write(`iiptran: ${err.message}${err.code ? ` [${err.code}]` : ''}\n`);
    const usage = err.code === 'IIPTRAN_ERR_USAGE' || err.code === 'IIPTRAN_ERR_CONFIG' || err.code === 'IIPTRAN_ERR_KEYFILE' || err.code === 'IIPTRAN_ERR_TOPOLOGY';
    process.exitCode = usage ? 2 : 1;
    // A failed command must not linger on some handle it left open; unref'd, so a clean
    // exit is not delayed.
    setTimeout(() => process.exit(), 1000).unref();
  }
}
