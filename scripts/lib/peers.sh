# Shared by scripts/test, scripts/demo and bench/: install the real peers we test against when missing.

# The directory pip installs console scripts into, so freshly installed tools are on PATH.
export PATH="$PATH:$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))' 2>/dev/null || true)"

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

apt_updated=""
# require_apt COMMAND:PACKAGE...  — apt-get install PACKAGE unless COMMAND is on PATH (or, for an absolute path,
# unless that file exists: a library's header). Every script that builds the package names BUILD_DEPS.
require_apt() {
  local missing=()
  for pair in "$@"; do
    local have="${pair%%:*}"
    if [[ $have == /* ]]; then [ -e "$have" ]; else command -v "$have" >/dev/null 2>&1; fi || missing+=("${pair#*:}")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing ${missing[*]} (apt)" >&2
  if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# What the build links besides the Swift toolchain: libyaml for the sidecar's YAML files (static libyaml.a too).
BUILD_DEPS=(/usr/include/yaml.h:libyaml-dev)

# require_pip COMMAND:PACKAGE...  — pip install PACKAGE unless COMMAND is on PATH.
require_pip() {
  local missing=()
  for pair in "$@"; do command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing ${missing[*]} (pip)" >&2
  python3 -m pip install -q --disable-pip-version-check "${missing[@]}"
}

# The Swift driver leaves a TemporaryDirectory.* in TMPDIR for the compiler jobs it plans (a dozen per
# `swift build`, even one with nothing to do: thousands a day in /tmp). Builds get a TMPDIR under .build, which
# goes with the build; `swift test` keeps the caller's, which the tests themselves use.
swift_tmp="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/.build/tmp"
swift() {
  [ "${1:-}" = test ] && { command swift "$@"; return; }
  mkdir -p "$swift_tmp"
  find "$swift_tmp" -mindepth 1 -maxdepth 1 -mmin +60 -exec rm -rf {} + 2>/dev/null || true
  TMPDIR="$swift_tmp" command swift "$@"
}

# free_port: a TCP port on 127.0.0.1 that nothing listens on now.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# wait_port PORT: until 127.0.0.1:PORT accepts (10 s), else show the logs in the current directory and fail.
wait_port() {
  for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done
  echo "port $1 never opened:"; cat ./*.err ./*.log 2>/dev/null | tail -5; exit 1
}

# wait_for FILE REGEX [SECONDS]: until a line of FILE matches (default 10 s), else show FILE and fail.
wait_for() {
  for _ in $(seq $(( ${3:-10} * 20 ))); do grep -qE "$2" "$1" && return 0; sleep 0.05; done
  echo "timed out waiting for /$2/ in $1:"; cat "$1"; exit 1
}

# The build we ship on Linux: release, each product one fully static executable (the Swift runtime, glibc and
# libstdc++ linked in), so it starts without the dynamic loader's work and runs in an empty image that has
# /proc. Linked by lld with every function of ours in its own section, in the order of text-order.txt (made by
# scripts/profile-text-order): the code the binaries run packed together, so that fewer of their pages are
# resident. Benchmarks measure it; StaticExecutableTests run it in an empty root. Its own scratch path: a build
# directory made with other flags keeps dependency objects compiled without function sections.
text_order="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/text-order.txt"
text_layout="$(dirname "$text_order")/text-layout.ld"
release_build=(swift build -c release -Xswiftc -static-executable -Xswiftc -use-ld=lld
  -Xswiftc -Xfrontend -Xswiftc -function-sections -Xcc -ffunction-sections
  -Xlinker "--symbol-ordering-file=$text_order" -Xlinker --no-warn-symbol-ordering -Xlinker -T -Xlinker "$text_layout"
  --scratch-path .build-shipped)
