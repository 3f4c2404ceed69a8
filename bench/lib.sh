# Helpers shared by the bench scripts (sourced, not run). The caller defines
# ROOT (the repo) and log/die, and for bench_cleanup: PIDS (array), NODE_UP,
# NODE_SIM, PREFIX, WORK (bench_start sets these).

# A name prefix for everything one run creates (netns, veths, cgroup, pins):
# "sl" and 6 hex digits, so overlapping runs never collide.
bench_prefix() { echo "sl$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')"; }

# The state of a run that uses the simulated node, with the EXIT trap that
# removes it all: NODE_SIM, CG_ROOT, PREFIX, WORK, PIDS, NODE_UP.
bench_start() {
  NODE_SIM=$ROOT/scripts/node_sim.sh
  CG_ROOT=${SLUICE_CGROUP2_ROOT:-/sys/fs/cgroup/unified}
  PREFIX=$(bench_prefix)
  WORK=$(mktemp -d)
  PIDS=()
  NODE_UP=0
  trap bench_cleanup EXIT
  trap 'exit 130' INT
}

# TERM, up to 5 s grace, then KILL; only PIDs the script started.
stop_pid() {
  kill -TERM "$1" 2>/dev/null || return 0
  for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# The EXIT trap: stops what was started (last first), takes the simulated
# node down (which also kills anything left in its cgroup and netns) and
# removes the work dir, keeping the script's exit status.
bench_cleanup() {
  local rc=$? i
  trap - EXIT INT TERM
  set +e
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${PIDS[i]}"; done
  (( NODE_UP )) && { "$NODE_SIM" down "$PREFIX" || rc=1; }
  rm -rf "$WORK"
  exit "$rc"
}

# The median of the numbers on stdin; anything else (a failed run's empty or
# "err" value) is left out, and "err" is printed when no number is left.
median() {
  awk '$1 ~ /^[0-9]+(\.[0-9]+)?$/ { print $1 }' | sort -n |
    awk '{ v[NR] = $1 } END { if (NR == 0) print "err"; else print v[int((NR + 1) / 2)] }'
}

# a / b with two decimals, "err" unless both are numbers and b is positive.
ratio() {
  awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9]+(\.[0-9]+)?$/ && b ~ /^[0-9]+(\.[0-9]+)?$/ && b + 0 > 0)
    printf "%.2f", a / b; else print "err" }'
}

# nginx's temporary-file paths under $1, for an nginx run as root from a
# bench's work directory (the packaged defaults under /var/lib/nginx may not
# exist or be writable); printed as lines of an http {} block.
nginx_temp_paths() {
  local d
  for d in client_body proxy fastcgi uwsgi scgi; do echo "    ${d}_temp_path $1/$d;"; done
}
