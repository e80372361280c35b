#!/usr/bin/env bash
# Installs everything iiptran's daemon, tests and benchmark need on Debian (run as root),
# then builds the native addon and the TypeScript. Idempotent: safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

DEB_PACKAGES=(
  iproute2 iputils-ping    # netns, veth, ping
  fping                    # lab convergence: one process pings every VN address of a node
  nftables                 # underlay fault injection
  iperf3                   # TCP transfer tests and benchmark
  tcpdump tshark           # underlay captures; tshark is the independent ESP decoder
  openvpn wireguard-go wireguard-tools openssl  # benchmark peers
  bird2                    # dynamic routing over vlinks
  strongswan-charon strongswan-swanctl libcharon-extra-plugins libstrongswan-extra-plugins  # IKEv2 interop peer
  g++ make python3         # native addon build (node-gyp)
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
echo "setup.sh: ready (node $(node --version), $(ls build/Release/*.node))"
