# Sourced by the scripts in bin/: run one bundled command, building first on a fresh
# checkout. $top is the checkout (bin/ links resolved).
run_command() {
  name=$1
  js="$top/dist/bin/$name.cjs"
  shift
  if [ ! -f "$js" ] || [ ! -f "$top/dist/bin/_cached.cjs" ]; then
    (cd "$top" && npm run --silent build >&2) || exit 1
  fi
  # Commands need no TLS; this variable alone adds ~50 ms to every node start.
  unset NODE_EXTRA_CA_CERTS
  # The daemon starts once; each command starts through V8's code cache (~3 ms less
  # compiling, src/launch/cached.ts).
  if [ "$name" = zoneadmd ]; then exec node "$js" "$@"; fi
  exec node "$top/dist/bin/_cached.cjs" "$name" "$@"
}
