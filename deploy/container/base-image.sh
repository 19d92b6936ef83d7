#!/usr/bin/env bash
# Builds a local stand-in for the public Node.js 20 base image (docker.io/library/node:
# 20-bookworm-slim) where no image registry is reachable: a minimal Debian bookworm root
# filesystem from debootstrap plus this machine's Node.js 20 and npm, imported under the
# public name so deploy/Containerfile builds unchanged. Does nothing if the image exists.
#
#   deploy/container/base-image.sh [podman options…]
#
# Needs root, debootstrap and podman; reaches only Debian's package mirror.
set -euo pipefail
NAME="docker.io/library/node:20-bookworm-slim"
PODMAN=(podman "$@")
if "${PODMAN[@]}" image exists "$NAME"; then
  echo "base image $NAME is present"
  exit 0
fi
node_bin="$(command -v node)"
case "$("$node_bin" --version)" in v20.*) ;; *) echo "base-image.sh: needs Node.js 20 on this machine (found $("$node_bin" --version))" >&2; exit 1 ;; esac
npm_dir="$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")"
rootfs="$(mktemp -d /var/tmp/bastion-rootfs.XXXXXX)"
trap 'rm -rf "$rootfs"' EXIT
echo "debootstrap: bookworm minbase into $rootfs"
debootstrap --variant=minbase bookworm "$rootfs" "${DEBIAN_MIRROR:-http://deb.debian.org/debian}" >/dev/null
install -m 0755 "$node_bin" "$rootfs/usr/local/bin/node"
mkdir -p "$rootfs/usr/local/lib/node_modules"
cp -a "$npm_dir" "$rootfs/usr/local/lib/node_modules/npm"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
# As in the public image: no package lists or caches.
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin
tar -C "$rootfs" -c . | "${PODMAN[@]}" import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV NODE_VERSION='"$("$node_bin" --version | tr -d v)" \
  --change 'CMD ["node"]' - "$NAME" >/dev/null
echo "base image $NAME built from debootstrap and $("$node_bin" --version)"
