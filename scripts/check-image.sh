#!/usr/bin/env bash
# Builds the runtime image with podman (runc) from the binary and site this
# machine built, using the Dockerfile's own runtime stage (`FROM scratch` plus
# the root filesystem scripts/rootfs.sh assembles; nothing is pulled), then
# runs it as a cluster would: read-only root, uid 65532, only the
# Dockerfile's environment plus the two secrets production requires, a
# volume on /data. Checks /readyz, a full answer from the built-in emulator
# (sign-up through a mail sink on the host), the SQLite file under /data,
# the HEALTHCHECK command, and SIGTERM → exit 0. Prints the image size.
#
#   scripts/check-image.sh [server-binary] [site-dir]
set -euo pipefail
source "$(dirname "$0")/lib.sh"

binary="${1:-$TARGET_DIR/release/weasel-server}"
[ -x "$binary" ] || binary="$TARGET_DIR/debug/weasel-server"
site="${2:-$SITE_ROOT}"
mail_sink="$TARGET_DIR/debug/mail-sink"
[ -x "$binary" ] || die "no server binary (cargo build -p weasel-server)"
[ -x "$mail_sink" ] || die "no mail sink at $mail_sink (cargo build -p mail-sink)"
command -v podman >/dev/null || die "podman is missing (scripts/setup.sh --test installs it)"

step "the runtime image, built and run with podman"
podman=(podman --runtime runc --cgroup-manager=cgroupfs)
work="$(mktemp -d)"
name="weasel-check-$$"
tag="localhost/weasel-check:$$"
sink_pid=""
cleanup() {
  "${podman[@]}" rm -f "$name" >/dev/null 2>&1 || true
  "${podman[@]}" rmi -f "$tag" >/dev/null 2>&1 || true
  [ -n "$sink_pid" ] && kill "$sink_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

"$ROOT/scripts/rootfs.sh" "$binary" "$site" "$work/rootfs"
# The Dockerfile's runtime stage, fed the local root filesystem.
sed -n '/^FROM scratch AS runtime$/,$p' "$ROOT/Dockerfile" >"$work/Containerfile"
grep -q '^COPY --from=builder /out/rootfs/ /$' "$work/Containerfile" || die "the Dockerfile's runtime stage changed shape"
sed -i 's#^COPY --from=builder /out/rootfs/ /$#COPY rootfs/ /#' "$work/Containerfile"
# Docker's image format: OCI images have no HEALTHCHECK.
"${podman[@]}" build --quiet --format docker --tag "$tag" --file "$work/Containerfile" "$work" >/dev/null
size="$("${podman[@]}" image inspect --format '{{.Size}}' "$tag")"
note "image $tag: $((size / 1024 / 1024)) MiB ($size bytes) from $(basename "$(dirname "$binary")") build; goal < 30 MiB"

port="$(free_port)" smtp_port="$(free_port)" mail_port="$(free_port)"
# The container reaches the host's mail sink through host.containers.internal.
"$mail_sink" "0.0.0.0:$smtp_port" "127.0.0.1:$mail_port" >"$work/mail.log" 2>&1 &
sink_pid=$!
mkdir "$work/data"
chown 65532:65532 "$work/data"
"${podman[@]}" run --detach --name "$name" --read-only --user 65532:65532 \
  --ulimit nofile=20000:20000 --ulimit nproc=4096:4096 \
  --volume "$work/data:/data" --publish "127.0.0.1:$port:8080" \
  --env WEASEL_SESSION_KEY="$(head -c 64 /dev/urandom | base64 -w0)" \
  --env WEASEL_SMTP_URL="smtp://host.containers.internal:$smtp_port" \
  "$tag" >/dev/null 2>"$work/run.err" || { cat "$work/run.err" >&2; die "the container did not start"; }
# (podman's complaint that no systemd runs the HEALTHCHECK on a timer is in run.err; it is run by hand below.)
fail() { "${podman[@]}" logs "$name" 2>&1 | tail -30 >&2; die "$*"; }

base="http://127.0.0.1:$port"
for _ in $(seq 150); do
  curl -fs "$base/readyz" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fs "$base/readyz" | grep -q '"ready"' || fail "/readyz never answered ready"
pid="$("${podman[@]}" inspect --format '{{.State.Pid}}' "$name")"
uid="$(awk '/^Uid:/ { print $2 }' "/proc/$pid/status")"
[ "$uid" = 65532 ] || fail "the server runs as uid '$uid', not 65532"
[ "$("${podman[@]}" inspect --format '{{.HostConfig.ReadonlyRootfs}}' "$name")" = true ] || fail "root is writable"
note "/readyz: ready; running as uid $uid on a read-only root"
"${podman[@]}" healthcheck run "$name" >/dev/null || fail "HEALTHCHECK failed"
note "HEALTHCHECK: healthy"

# A student signs up (confirmation mail to the sink), asks, reads the answer.
jar="$work/cookies"
email="image-check@example.com" password="correct horse battery"
curl -fs -c "$jar" -b "$jar" "$base/api/sign_up" \
  --data-urlencode "email=$email" --data-urlencode "password=$password" \
  --data-urlencode "confirm=$password" --data-urlencode "next=/" >/dev/null || fail "sign-up refused"
token=""
for _ in $(seq 50); do
  token="$(curl -fs "http://127.0.0.1:$mail_port/messages?to=$email" |
    python3 -c 'import json,re,sys; m=json.load(sys.stdin); print(next((t for x in m for t in re.findall(r"verify=([A-Za-z0-9_-]+)", x.get("body","")) ), ""))')"
  [ -n "$token" ] && break
  sleep 0.2
done
[ -n "$token" ] || fail "no confirmation mail reached the sink"
curl -fs -c "$jar" -b "$jar" "$base/api/sign_in" \
  --data-urlencode "email=$email" --data-urlencode "password=$password" \
  --data-urlencode "next=/" --data-urlencode "verify=$token" >/dev/null || fail "sign-in refused"
answer="$(curl -fs -b "$jar" "$base/api/ask" --data-urlencode "subject=math" \
  --data-urlencode "question=이미지 점검: 1 + 1 = ?" | python3 -c 'import json,sys; print(json.load(sys.stdin)["answer"])')" ||
  fail "the question was refused"
events="$(curl -sN -b "$jar" --max-time 60 "$base/api/answers/$answer/events")"
grep -q '^event: done' <<<"$events" || fail "the answer never ended"
grep -A1 '^event: done' <<<"$events" | grep -qi '"status":"complete"' || fail "the answer did not complete: $(tail -3 <<<"$events")"
note "a full answer from the built-in emulator: $(grep -c '^event: delta' <<<"$events") delta events, complete"
[ -s "$work/data/weasel.db" ] || fail "no SQLite file under the mounted /data"
note "SQLite under /data: $(du -k "$work/data/weasel.db" | cut -f1) KiB"

"${podman[@]}" stop --time 20 "$name" >/dev/null 2>&1
code="$("${podman[@]}" inspect --format '{{.State.ExitCode}}' "$name")"
[ "$code" = 0 ] || fail "exit code $code after SIGTERM"
note "SIGTERM: exit 0"
