#!/usr/bin/env bash
# The explicit install step of the gateway-overhead benchmark (bench/overhead/run.ts).
#
#   bash bench/overhead/install.sh             nginx and wrk from Debian, when missing
#   bash bench/overhead/install.sh --portkey   also @portkey-ai/gateway into bench/.peers/
#   bash bench/overhead/install.sh --autocannon  also autocannon there (the fallback when wrk is missing)
#
# Nothing here touches package.json or node_modules: the peer gateway lives in its own npm
# prefix (bench/.peers/, not part of the project), and run.ts finds it there. run.ts never
# installs anything itself; a missing tool makes it print "run bench/overhead/install.sh" and
# skip that row.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
peers="$(cd "$here/.." && pwd)/.peers"
portkey=0
autocannon=0
for arg in "$@"; do
  case "$arg" in
    --portkey) portkey=1 ;;
    --autocannon) autocannon=1 ;;
    -h|--help) sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown option $arg (known: --portkey, --autocannon)" >&2; exit 2 ;;
  esac
done

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then sudo="sudo"; else echo "install.sh: not root and no sudo; install nginx and wrk by hand" >&2; exit 1; fi
fi

# nginx may live in /usr/sbin, which is not on every user's PATH.
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }

missing=()
for tool in nginx wrk; do
  if have "$tool"; then echo "install.sh: $tool already present ($(command -v "$tool" || echo "/usr/sbin/$tool")); skipped"
  else missing+=("$tool"); fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "install.sh: installing ${missing[*]} with apt-get"
  $sudo apt-get update -qq
  # nginx's Debian package starts a system service on port 80 when it can; the benchmark runs
  # its own nginx with its own config, so the service is neither needed nor touched.
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
  for tool in "${missing[@]}"; do
    if have "$tool"; then echo "install.sh: installed $tool"; else echo "install.sh: $tool still missing after apt-get" >&2; exit 1; fi
  done
fi

# npm packages into bench/.peers/, a prefix of its own. `npm install --no-save` prunes whatever
# that command does not name, so each install names every peer already there too (at its
# installed version, so nothing is upgraded behind the user's back).
peer_version() { [ -f "$peers/node_modules/$1/package.json" ] && node -p "require('$peers/node_modules/$1/package.json').version"; }
wanted=()
[ "$portkey" -eq 1 ] && wanted+=(@portkey-ai/gateway)
[ "$autocannon" -eq 1 ] && wanted+=(autocannon)
new=()
for pkg in "${wanted[@]}"; do
  if v="$(peer_version "$pkg")"; then echo "install.sh: $pkg $v already in $peers; skipped"; else new+=("$pkg"); fi
done
if [ "${#new[@]}" -gt 0 ]; then
  keep=()
  for pkg in @portkey-ai/gateway autocannon; do
    if v="$(peer_version "$pkg")"; then keep+=("$pkg@$v"); fi
  done
  mkdir -p "$peers"
  # A package.json of its own keeps npm from walking up to the project's.
  [ -f "$peers/package.json" ] || echo '{ "name": "switchyard-bench-peers", "private": true }' > "$peers/package.json"
  echo "install.sh: npm install --no-save ${new[*]} into $peers${keep[*]:+ (keeping ${keep[*]})}"
  npm install --prefix "$peers" --no-save --no-audit --no-fund "${keep[@]}" "${new[@]}"
  for pkg in "${new[@]}"; do echo "install.sh: installed $pkg $(peer_version "$pkg") in $peers"; done
fi
[ "$portkey" -eq 1 ] || echo "install.sh: @portkey-ai/gateway not requested (pass --portkey to install it into $peers)"
