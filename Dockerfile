# iiptran container image: a build stage that compiles the native addon and the TypeScript and
# installs the packed package, and a slim runtime with the daemon, iproute2, nftables and BIRD.
#   podman build -t iiptran .        (or docker build)
#   podman run --cap-add NET_ADMIN,NET_RAW --device /dev/net/tun -v /etc/iiptran:/etc/iiptran:ro \
#     iiptran iiptran node --config /etc/iiptran/a.yaml
# BASE: any Debian 12 image with Node.js >= 20.19, npm and Node's headers (the official
# node:20-bookworm-slim has them under /usr/local); NODEDIR is where its include/node is.
ARG BASE=node:20-bookworm-slim

FROM ${BASE} AS build
ARG NODEDIR=/usr/local
RUN apt-get update \
 && apt-get install -y --no-install-recommends g++ make python3 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
# node-gyp takes the headers from here instead of downloading them.
ENV npm_config_nodedir=${NODEDIR} npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
WORKDIR /src
COPY package.json package-lock.json ./
# Dependencies first (their own layer, cached while only our sources change); our install
# and prepare scripts need the sources, so they run below.
RUN npm ci --ignore-scripts
COPY . .
RUN npm run build && npm pack --ignore-scripts --pack-destination /tmp
# What a user gets from `npm install -g` of the tarball: production dependencies and the addon
# compiled here. The object files of the build go; the .node stays.
RUN npm install -g --prefix /opt/iiptran /tmp/iiptran-*.tgz \
 && rm -rf /opt/iiptran/lib/node_modules/iiptran/build/Release/obj.target /opt/iiptran/lib/node_modules/iiptran/build/Release/.deps

FROM ${BASE} AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends iproute2 nftables bird2 iputils-ping \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /opt/iiptran /opt/iiptran
ENV PATH=/opt/iiptran/bin:$PATH
# The control sockets; a volume so `iiptran show` can reach them from another container.
RUN mkdir -p /run/iiptran /etc/iiptran
VOLUME ["/run/iiptran"]
# Needs: --cap-add NET_ADMIN,NET_RAW (and NET_BIND_SERVICE, in the default set, for IKE on 500)
# and --device /dev/net/tun. SIGTERM is a clean stop (vlinks, guard and socket removed).
STOPSIGNAL SIGTERM
ENTRYPOINT []
CMD ["iiptran", "node", "--config", "/etc/iiptran/node.yaml"]
