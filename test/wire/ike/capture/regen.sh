#!/bin/sh
# Regenerates the IKEv2 captures behind test/wire/ike/charon-vectors.ts (a fixture generator, not
# a test: the unit tests only read the embedded bytes).
#
#   sudo test/wire/ike/capture/regen.sh [OUTDIR]      # then: node test/wire/ike/capture/extract.mjs OUTDIR
#
# Needs root, iproute2, tcpdump, and Debian's strongSwan 5.9 (strongswan-charon strongswan-swanctl
# libcharon-extra-plugins libstrongswan-extra-plugins). Two charons run in two fresh namespaces
# joined by a veth (10.77.0.1 <-> 10.77.0.2); no packet leaves them. Runs:
#   run1  kernel-netlink, transport mode, FQDN IDs, CBC/HMAC IKE SA. charon cannot install the
#         CHILD_SA on a kernel without ESP, so the IKE_AUTH response carries NO_PROPOSAL_CHOSEN.
#         Then an INFORMATIONAL deletes the IKE SA.
#   run2  kernel-libipsec, tunnel 0/0, encap = yes (port 4500), AES-GCM IKE SA, INVALID_KE_PAYLOAD
#         retry, IPv4/RFC822 IDs. The CHILD_SA installs; it is deleted, then the IKE SA.
# Each charon logs its keys (ike = 4) to OUTDIR/runN-{a,b}.log; extract.mjs decrypts SK with them
# and writes OUTDIR/wireshark/ikev2_decryption_table, so the same captures can be read with
#   WIRESHARK_CONFIG_DIR=OUTDIR/wireshark tshark -r OUTDIR/run1.pcap -V -O isakmp
# Namespaces, charons and tcpdump are removed on exit, whatever happens (KEEP=1 keeps the work
# directory with the charon configs and logs; ONLY=run1|run2 does one run).
#
# Every run draws fresh SPIs, nonces and keys. After regenerating, charon.test.ts's expectations
# must be transcribed again from that tshark output: they are deliberately not derived from the
# vectors, so that they check our decoder against an independent one.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${1:-/tmp/iiptran-ike-captures}
TAG=ikecap$$
NSA=${TAG}a
NSB=${TAG}b
WORK=$(mktemp -d /tmp/${TAG}.XXXX)
PIDS=""
mkdir -p "$OUT"

cleanup() {
  for p in $PIDS; do kill "$p" 2>/dev/null || true; done
  sleep 0.3
  ip netns del "$NSA" 2>/dev/null || true
  ip netns del "$NSB" 2>/dev/null || true
  [ -n "${KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

start_charon() { # ns dir kernel-plugin swanctl-conf
  ns=$1; dir=$2
  mkdir -p "$dir/run"
  sed -e "s|@DIR@|$dir|g" -e "s|@KERNEL@|$3|g" "$HERE/strongswan.conf.in" > "$dir/strongswan.conf"
  cp "$4" "$dir/swanctl.conf"
  # The pid file path is compiled in (/var/run/charon.pid): a private /run per instance.
  ip netns exec "$ns" unshare -m sh -c "mount --bind $dir/run /run && exec env STRONGSWAN_CONF=$dir/strongswan.conf /usr/lib/ipsec/charon" \
    > "$dir/stdout" 2>&1 &
  PIDS="$PIDS $!"
  i=0
  until [ -S "$dir/charon.vici" ]; do
    i=$((i + 1)); [ $i -lt 100 ] || { echo "charon in $ns did not start" >&2; cat "$dir/stdout" >&2; exit 1; }
    sleep 0.1
  done
  swanctl --load-all --uri "unix://$dir/charon.vici" --noprompt --file "$dir/swanctl.conf" > "$dir/load" 2>&1 ||
    { cat "$dir/load" >&2; exit 1; }
}

sw() { # dir command args...
  dir=$1; cmd=$2; shift 2
  swanctl "$cmd" --uri "unix://$dir/charon.vici" "$@"
}

run() { # name kernel-plugin
  name=$1
  ip netns add "$NSA"; ip netns add "$NSB"
  ip -n "$NSA" link set lo up; ip -n "$NSB" link set lo up
  ip link add vcap0 netns "$NSA" type veth peer name vcap1 netns "$NSB"
  ip -n "$NSA" addr add 10.77.0.1/24 dev vcap0; ip -n "$NSA" link set vcap0 up
  ip -n "$NSB" addr add 10.77.0.2/24 dev vcap1; ip -n "$NSB" link set vcap1 up

  ip netns exec "$NSA" tcpdump --immediate-mode -U -n -s 0 -i vcap0 -w "$OUT/$name.pcap" udp port 500 or udp port 4500 \
    2> "$WORK/$name.tcpdump" &
  TCPDUMP=$!
  PIDS="$PIDS $TCPDUMP"
  until grep -qs 'listening on' "$WORK/$name.tcpdump"; do sleep 0.05; done

  start_charon "$NSA" "$WORK/$name-a" "$2" "$HERE/$name-a.swanctl.conf"
  start_charon "$NSB" "$WORK/$name-b" "$2" "$HERE/$name-b.swanctl.conf"
  sw "$WORK/$name-a" --initiate --ike cap --child cap --timeout 10 > "$WORK/$name.initiate" 2>&1 || true
  sleep 0.5
  sw "$WORK/$name-a" --list-sas > "$OUT/$name-sas.txt" 2>&1 || true
  if [ "$name" = run2 ]; then
    sw "$WORK/$name-a" --terminate --child cap --timeout 10 > /dev/null 2>&1 || true
    sleep 0.3
  fi
  sw "$WORK/$name-a" --terminate --ike cap --timeout 10 > /dev/null 2>&1 || true
  sleep 0.5

  kill $TCPDUMP; wait $TCPDUMP 2>/dev/null || true
  for p in $PIDS; do kill "$p" 2>/dev/null || true; done
  sleep 0.3
  PIDS=""
  cp "$WORK/$name-a/charon.log" "$OUT/$name-a.log"
  cp "$WORK/$name-b/charon.log" "$OUT/$name-b.log"
  ip netns del "$NSA"; ip netns del "$NSB"
}

[ -n "${ONLY:-}" ] && [ "$ONLY" != run1 ] || run run1 kernel-netlink
[ -n "${ONLY:-}" ] && [ "$ONLY" != run2 ] || run run2 "kernel-libipsec kernel-netlink"
echo "captures in $OUT"
