#!/bin/sh
# Mesa's software Vulkan driver (lavapipe, Mesa 25 from bookworm-backports) for the WebGPU tests,
# unpacked into DEST without touching the system's apt sources: each package's pool path is
# resolved from the suite's Packages.xz, the .deb is downloaded and unpacked with dpkg-deb, and the
# ICD file is rewritten to point at the unpacked driver. Stock bookworm Mesa 22 is refused by Dawn
# (docs/webgpu.md). Needs curl, xz, dpkg-deb, and libLLVM-15 on the system (Debian: libllvm15).
# Use: scripts/lavapipe.sh [DEST] (default .cache/lavapipe); then
#   export VK_ICD_FILENAMES=DEST/lvp_icd.json LD_LIBRARY_PATH=DEST/root/usr/lib/x86_64-linux-gnu
# (vitest.config.ts does that itself when .cache/lavapipe exists).
set -eu
DEST=${1:-.cache/lavapipe}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
mkdir -p "$DEST/debs"
DEST=$(cd "$DEST" && pwd)
if [ -f "$DEST/lvp_icd.json" ]; then echo "lavapipe: already in $DEST"; exit 0; fi
pkgfile() {
  curl -fsSL "$MIRROR/dists/$1/main/binary-amd64/Packages.xz" | xz -dc |
    awk -v p="$2" '/^Package: /{ok=($2==p)} ok&&/^Filename: /{print $2}' | tail -1
}
for spec in bookworm-backports:mesa-vulkan-drivers bookworm:libvulkan1; do
  f=$(pkgfile "${spec%%:*}" "${spec#*:}")
  [ -n "$f" ] || { echo "lavapipe: ${spec#*:} not found in ${spec%%:*}" >&2; exit 1; }
  curl -fsSL -o "$DEST/debs/$(basename "$f")" "$MIRROR/$f"
done
rm -rf "$DEST/root" && mkdir "$DEST/root"
for d in "$DEST"/debs/*.deb; do dpkg-deb -x "$d" "$DEST/root"; done
LIB=$DEST/root/usr/lib/x86_64-linux-gnu
sed "s#\"library_path\": *\"[^\"]*\"#\"library_path\": \"$LIB/libvulkan_lvp.so\"#" \
  "$DEST/root/usr/share/vulkan/icd.d/lvp_icd.json" > "$DEST/lvp_icd.json.tmp"
mv "$DEST/lvp_icd.json.tmp" "$DEST/lvp_icd.json"
echo "lavapipe: $(ls "$DEST"/debs) unpacked in $DEST"
