# Sourced by the scripts in bin/: run one built command, building first on a fresh checkout.
# $here is the bin/ directory of the checkout (symlinks resolved).
run_command() {
  name=$1
  shift
  top=$(cd "$here/.." && pwd)
  js="$top/dist/src/cmd/$name.js"
  if [ ! -f "$js" ]; then
    (cd "$top" && npm run --silent build >&2) || exit 1
  fi
  # Commands need no TLS; this variable alone adds ~50 ms to every node start.
  unset NODE_EXTRA_CA_CERTS
  exec node "$js" "$@"
}
