# rrpipe's container image: `docker build -t rrpipe:0.1.0 .` (docs/container.md says what is in it).
# Three stages: build compiles and packs the npm tarball, install puts that tarball and its
# production dependencies (native addons compiled there) into /opt/rrpipe, and the final stage
# copies only /opt/rrpipe onto a slim Node 20 base. test/deploy/dockerfile.test.ts checks this file,
# and test/deploy/npm-pack.test.ts repeats the install stage from `npm pack` on the test machine.
ARG NODE_VERSION=20

FROM node:${NODE_VERSION}-bookworm AS build
WORKDIR /src
COPY package.json package-lock.json ./
# Scripts off: the dev tools only compile TypeScript here, none of their native addons is needed.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json README.md LICENSE ./
COPY src ./src
COPY bin ./bin
COPY configs ./configs
COPY plugins ./plugins
COPY web ./web
RUN npm run build \
 && mkdir /pkg \
 && npm pack --ignore-scripts --pack-destination /pkg \
 && mv /pkg/rrpipe-*.tgz /pkg/rrpipe.tgz

FROM node:${NODE_VERSION}-bookworm AS install
WORKDIR /opt/rrpipe
COPY --from=build /pkg/rrpipe.tgz /tmp/rrpipe.tgz
# Production dependencies only; better-sqlite3 and zstd-napi compile with this stage's toolchain
# (JOBS=max: node-gyp builds on every core).
RUN JOBS=max npm install --omit=dev --no-audit --no-fund /tmp/rrpipe.tgz \
 && npm cache clean --force \
 && rm /tmp/rrpipe.tgz

FROM node:${NODE_VERSION}-bookworm-slim
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG SOURCE=unknown
LABEL org.opencontainers.image.title="rrpipe" \
      org.opencontainers.image.description="A config-driven collector for Speedscale RRPairs: capture, clean, index, archive, rehydrate." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.licenses="Apache-2.0"
# tini is PID 1: it forwards SIGTERM to rrpipe (which drains) and reaps tcpdump. tcpdump is nettap's
# live capture; it carries CAP_NET_RAW/CAP_NET_ADMIN as file capabilities so that the non-root user
# can capture when the pod adds those two capabilities (deploy/kubernetes/overlays/daemonset-nettap).
# libjemalloc2: rrpipe runs on jemalloc (LD_PRELOAD below), which gives freed memory back to the
# system after a load spike where glibc's malloc kept it (docs/container.md, "Memory").
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini tcpdump ca-certificates libcap2-bin libjemalloc2 \
 && ln -s "$(dpkg -L libjemalloc2 | grep '/libjemalloc\.so\.2$')" /usr/local/lib/libjemalloc.so.2 \
 && setcap cap_net_raw,cap_net_admin+eip /usr/bin/tcpdump \
 && apt-get purge -y libcap2-bin \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 rrpipe \
 && useradd --uid 10001 --gid 10001 --home-dir /var/lib/rrpipe --no-create-home --shell /usr/sbin/nologin rrpipe \
 && mkdir -p /var/lib/rrpipe \
 && chown 10001:10001 /var/lib/rrpipe
COPY --from=install /opt/rrpipe /opt/rrpipe
# State lives only under /var/lib/rrpipe (mount a volume there); the root filesystem can be read-only.
# LD_PRELOAD/MALLOC_CONF are read when a process starts: jemalloc with a background thread that
# returns pages unused for 5 s (set LD_PRELOAD= in the pod to run on glibc's malloc instead), one
# arena and no thread caches (idle RSS −5 MB, OTLP peak −15 to −50 MB: docs/container.md).
# --expose-gc lets rrpipe collect once when it goes idle after a load spike (src/service/idle-gc.ts).
# --max-semi-space-size=4 caps V8's young generation at 4 MB a semi-space (Node 20's default: 16):
# with the jemalloc settings, idle RSS 77 instead of 83 MB and no higher OTLP peak or CPU
# (docs/container.md).
ENV NODE_ENV=production \
    NODE_OPTIONS="--expose-gc --max-semi-space-size=4" \
    LD_PRELOAD=/usr/local/lib/libjemalloc.so.2 \
    MALLOC_CONF=background_thread:true,dirty_decay_ms:5000,muzzy_decay_ms:0,narenas:1,tcache:false \
    PATH=/opt/rrpipe/node_modules/.bin:$PATH \
    RRPIPE_DATA=/var/lib/rrpipe \
    RRPIPE_HEALTH_ENDPOINT=0.0.0.0:13133 \
    RRPIPE_METRICS_ADDRESS=0.0.0.0:8888
WORKDIR /var/lib/rrpipe
VOLUME ["/var/lib/rrpipe"]
USER 10001:10001
# OTLP gRPC and HTTP, health_check, Prometheus metrics (the OTel Collector's ports).
EXPOSE 4317 4318 13133 8888
ENTRYPOINT ["/usr/bin/tini", "--", "rrpipe"]
CMD ["run"]
