# Sourced by setup scripts.
# apt_install installs Debian packages, running apt-get update once per CI run.
apt_install() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ ! -f /tmp/.rrpipe-apt-updated ]; then
    apt-get update -qq && touch /tmp/.rrpipe-apt-updated
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# need_file PATH WHAT HOW: fail the setup, saying how to get WHAT, when PATH is not an executable file.
need_file() {
  [ -x "$1" ] && return 0
  echo "setup: $2 is missing (looked for $1)." >&2
  echo "  $3" >&2
  return 1
}
