#!/usr/bin/env bash
# The main job: launch the triangle overlay (3 nodes, BIRD OSPF over IIPtran vlinks keyed by
# IKEv2), show it
# working, break a link and watch OSPF reroute through the third node, then remove everything.
# Run as root after scripts/setup.sh. Leaves nothing behind, even on failure.
set -euo pipefail
cd "$(dirname "$0")/.."
IIPTRAN="node bin/iiptran.js"
trap '$IIPTRAN lab down triangle >/dev/null 2>&1 || true' EXIT

step() { printf '\n=== %s\n' "$*"; }

step "lab up topologies/triangle.yaml"
$IIPTRAN lab up topologies/triangle.yaml

step "node a: kernel routes joined with vlink, outer header, policy and SA"
$IIPTRAN lab show a routes --lab triangle

step "node a: IKEv2 SAs (raw Ed25519 keys) and the CHILD_SAs they installed"
$IIPTRAN lab show a ike --lab triangle
$IIPTRAN lab show a sas --lab triangle

step "VN ping a -> b over the direct vlink"
$IIPTRAN lab exec a --lab triangle -- ping -c 3 -i 0.2 b

step "cut the a-b underlay path (nftables drop); liveness drops the carrier, OSPF reroutes via c"
$IIPTRAN lab link a b down --lab triangle
sleep 4
$IIPTRAN lab show a routes --lab triangle
$IIPTRAN lab exec a --lab triangle -- ping -c 3 -i 0.2 b

step "restore the a-b path"
$IIPTRAN lab link a b up --lab triangle
$IIPTRAN lab status triangle

step "lab down"
$IIPTRAN lab down triangle
trap - EXIT
echo "main job: OK"
