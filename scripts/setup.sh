#!/usr/bin/env bash
# Installs everything iiptran's daemon, tests and benchmark need on Debian (run as root),
# then builds the native addon and the TypeScript. Idempotent: safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

# Every Debian package the daemon, the labs, the tests and the benchmark use, with who uses it.
# A package installed by hand is not on the next machine: add it here. The program -> package
# table that `iiptran doctor` and the tests check against is src/tools/doctor-programs.ts.
DEB_PACKAGES=(
  iproute2                  # ip: daemon routes; labs and netns tests (netns, veth, bridges)
  iputils-ping              # ping: netns tests, demo
  fping                     # fping: lab convergence check (one process pings every VN address a node must reach)
  procps                    # sysctl: forwarding in lab router namespaces
  util-linux mount          # unshare, mount: a private /run per charon in the interop tests
  nftables                  # nft: lab NAT and link faults, fault injection in netns tests
  iperf3                    # TCP transfers in netns tests (rekey under load) and the benchmark
  tcpdump                   # underlay captures in netns tests and the demo
  tshark wireshark-common   # tshark, text2pcap: the independent ESP/IKE decoder in tests
  bird2                     # bird, birdc: OSPF over vlinks in labs (routing: bird)
  frr                       # zebra, ospfd, bfdd, bgpd, vtysh: FRR in labs (routing: frr, routing: bgp)
  strongswan-charon strongswan-swanctl  # charon, swanctl: the IKEv2 interop peer in netns tests
  libstrongswan strongswan-libcharon  # charon's base plugins (aes, sha2, kdf, x509, kernel-netlink, socket-default, ...)
  libstrongswan-standard-plugins  # charon's openssl and gcm plugins (AES-GCM); only a Recommends of strongswan-charon
  libstrongswan-extra-plugins     # charon's chapoly and curve25519 plugins
  libcharon-extra-plugins         # charon's kernel-libipsec plugin (tunnel-any interop test)
  kea-dhcp4-server          # kea-dhcp4: the real DHCPv4 server behind the hub's relay (RFC 3456 tests, DHCP captures)
  openssl                   # openssl CLI: raw public key interop unit test; benchmark OpenVPN keys
  ldnsutils nsd             # ldns-keygen, ldns-signzone, ldns-key2ds, nsd: signed test zones served for the DNSSEC tests
  unbound-host bind9-dnsutils  # unbound-host, delv: independent DNSSEC validators in the cross-check test
  python3-prometheus-client # the Prometheus text parser the metrics test reads our /metrics with
  podman runc mmdebstrap    # the container image test: podman with runc builds the Dockerfile on a Debian base made by mmdebstrap
  systemd                   # systemd-analyze: the tests verify contrib/systemd/iiptran@.service
  openvpn wireguard-go wireguard-tools  # benchmark peers
  g++ make python3          # native addon build (node-gyp, run by npm ci)
)

if [ "$(id -u)" -ne 0 ]; then
  echo "setup.sh: run as root (installs Debian packages; the daemon creates TUN interfaces)" >&2
  exit 1
fi

missing=()
for p in "${DEB_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup.sh: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm ci honours the lockfile; it also runs our own install script (node-gyp rebuild).
npm ci --no-audit --no-fund
npm run build --silent

# The same checks a user gets from `iiptran doctor`: a required one failing fails setup.
if ! node bin/iiptran.js doctor; then
  echo "setup.sh: iiptran doctor reports a failing check (see the FIX column above)" >&2
  exit 1
fi
echo "setup.sh: ready (node $(node --version), $(ls build/Release/*.node))"
