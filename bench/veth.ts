// Contender 1: the raw veth underlay, no tunnel. The baseline every ratio is relative to.

import type { Contender } from './contender.js';
import { UNDERLAY_B, UNDERLAY_MTU } from './netns.js';

export const veth: Contender = {
  name: 'veth',
  tag: 'veth',
  requires: [],
  async setup() {
    return { target: UNDERLAY_B, detail: `raw veth, MTU ${UNDERLAY_MTU}, kernel offloads as default` };
  },
};
