#!/usr/bin/env bash
# Assembles the runtime image's whole root filesystem in OUT: the server
# binary (stripped) and the site, the shared libraries the binary loads (as
# `ldd` lists them, at the same paths), CA certificates, a passwd/group with
# the unprivileged user 65532 ("nonroot"), and /data owned by it. The
# Dockerfile's builder stage runs this, and so does scripts/check-image.sh
# with the binary this machine built; the runtime stage is `FROM scratch`
# plus this directory, so nothing is pulled.
#
#   scripts/rootfs.sh BINARY SITE OUT
set -euo pipefail

binary="$1" site="$2" out="$3"
[ -x "$binary" ] || { echo "rootfs: no binary at $binary" >&2; exit 1; }
[ -d "$site/pkg" ] || { echo "rootfs: no site at $site" >&2; exit 1; }
[ -f /etc/ssl/certs/ca-certificates.crt ] || { echo "rootfs: ca-certificates is not installed" >&2; exit 1; }

rm -rf "$out"
mkdir -p "$out/app" "$out/data" "$out/tmp" "$out/etc/ssl/certs"
cp "$binary" "$out/app/weasel-server"
strip "$out/app/weasel-server"
cp -R "$site" "$out/app/site"

# Every library the dynamic loader will open, and the loader itself.
ldd "$binary" | awk '/=> \// { print $3 } /^\s*\/[^ ]+ \(0x/ { print $1 }' | sort -u | while read -r lib; do
  mkdir -p "$out$(dirname "$lib")"
  cp -L "$lib" "$out$lib"
done
# The loader is found through /lib64 on x86_64 (a symlink on Debian).
if [ -e /lib64/ld-linux-x86-64.so.2 ] && [ ! -e "$out/lib64/ld-linux-x86-64.so.2" ]; then
  mkdir -p "$out/lib64"
  cp -L /lib64/ld-linux-x86-64.so.2 "$out/lib64/"
fi

cp /etc/ssl/certs/ca-certificates.crt "$out/etc/ssl/certs/"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$out/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' >"$out/etc/group"
chmod 1777 "$out/tmp"
chown 65532:65532 "$out/data" 2>/dev/null || chmod 0777 "$out/data"
