# Sourced by the scripts in bin/: run one bundled command, building first on a fresh
# checkout. $top is the checkout (bin/ links resolved).
run_command() {
  js="$top/dist/bin/$1.cjs"
  shift
  if [ ! -f "$js" ]; then
    (cd "$top" && npm run --silent build >&2) || exit 1
  fi
  # Commands need no TLS; this variable alone adds ~50 ms to every node start.
  unset NODE_EXTRA_CA_CERTS
  exec node "$js" "$@"
}
