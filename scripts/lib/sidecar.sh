# Shared by the scripts that run a live `floodgate serve` on a private redis-server: source it from the repository
# root. Functions:
#   need PACKAGE...           installs the Debian packages whose command is missing (apt-get; the command is the
#                             package name, except redis-server's redis-cli)
#   build_floodgate [MODE]    builds `floodgate` (release by default, or debug) and sets $bin
#   start_private_redis [ARG...]
#                             a redis-server on a free loopback port, no persistence, extra arguments appended; sets
#                             $redis_port, $work (a scratch directory) and $redis_args (to start it again)
#   start_sidecar [ARG...]    `$bin serve` on a free port against that Redis (the environment passes through), output
#                             in $work/sidecar.log; waits until /api/health answers; sets $sidecar (pid), $port, $url
# An EXIT trap stops the sidecar and the redis-server and removes $work.

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }

need() {
    local missing=() package
    for package in "$@"; do command -v "$package" >/dev/null 2>&1 || missing+=("$package"); done
    if [ ${#missing[@]} -gt 0 ]; then
        local sudo=""
        [ "$(id -u)" -eq 0 ] || sudo=sudo
        $sudo apt-get update -q && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${missing[@]}"
    fi
}

build_floodgate() {
    local mode="${1:-release}"
    swift build -c "$mode" --product floodgate >&2
    bin="$(swift build -c "$mode" --show-bin-path)/floodgate"
}

stop_sidecar_and_redis() {
    [ -n "${sidecar:-}" ] && kill "$sidecar" 2>/dev/null || true
    [ -n "${redis_port:-}" ] && redis-cli -p "$redis_port" shutdown nosave >/dev/null 2>&1 || true
    [ -n "${work:-}" ] && rm -rf "$work"
    return 0
}
trap stop_sidecar_and_redis EXIT

start_private_redis() {
    redis_port=$(free_port)
    work=$(mktemp -d)
    redis_args=(--port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" "$@")
    redis-server "${redis_args[@]}" --daemonize yes >/dev/null
    for _ in $(seq 100); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && return 0; sleep 0.05; done
    echo "redis-server did not start on port $redis_port" >&2
    return 1
}

start_sidecar() {
    port=$(free_port)
    "$bin" serve --port "$port" --redis "redis://127.0.0.1:$redis_port" "$@" > "$work/sidecar.log" 2>&1 &
    sidecar=$!
    url="http://127.0.0.1:$port"
    for _ in $(seq 100); do curl -sf "$url/api/health" >/dev/null && return 0; sleep 0.1; done
    cat "$work/sidecar.log" >&2
    echo "the sidecar did not become healthy on $url" >&2
    return 1
}
