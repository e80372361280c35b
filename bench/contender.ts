// What every contender (raw veth, OpenVPN, wireguard-go, iiptran) provides to the runner.

import type { NsPair } from './netns.js';

export interface Tunnel {
  /** B's address to measure against (tunnel address, or the underlay address for raw veth). */
  target: string;
  /** One line describing the set-up (cipher, MTU, ...), shown under the table. */
  detail: string;
  /** Extra teardown beyond NsPair.destroy() (which already stops spawned processes). */
  close?: () => Promise<void>;
  /** The two tunnel daemons' pids (A, B), for CPU and RSS metering; none for raw veth. */
  pids?: [number, number];
  /** The data path the tunnel runs (offloads, crypto), read once after the measurements. */
  path?: () => Promise<string>;
}

export interface Contender {
  /** Name used by --only and in the table. */
  name: string;
  /** Short tag used in namespace names (keep it short). */
  tag: string;
  /** Executables that must be on PATH. */
  requires: string[];
  /** Build the tunnel inside a fresh namespace pair; resolve once it passes ping. */
  setup(pair: NsPair, workDir: string): Promise<Tunnel>;
}
