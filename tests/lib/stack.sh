# shellcheck shell=bash
#
# stack.sh - start and stop the test stand-ins from bash tests.
#
# Source it from a test script (not from a subshell or $(...): the
# background processes must be children of the test's own shell):
#
#   . "$EW_SOURCE_DIR/tests/lib/stack.sh"
#   ek_start --topic events:3 --topic out:1   # exports EK_BOOTSTRAP
#   ek_ctl "broker down 1"                     # prints "ok broker 1 down"
#   ek_stop                                    # SIGTERM; returns its status
#
# Needs EW_BUILD_DIR (the build directory holding embedded-kafka).
#
# Cleanup: stack_defer registers commands that run, last first, when the
# script exits (normally, on error, or on SIGINT/SIGTERM/SIGHUP). ek_start
# registers the stop of its broker and the removal of its files, so no
# process is left behind. Scripts that need their own exit work should
# use stack_defer instead of "trap ... EXIT", which would replace ours.

STACK_DEFERRED=()
STACK_TMP=""

# Runs the deferred commands, newest first. Installed as the EXIT trap.
stack_cleanup() {
        local i
        for ((i = ${#STACK_DEFERRED[@]} - 1; i >= 0; i--)); do
                eval "${STACK_DEFERRED[i]}" || true
        done
        STACK_DEFERRED=()
}

# stack_defer "COMMAND": run COMMAND (a string for eval) at exit.
stack_defer() {
        if [ ${#STACK_DEFERRED[@]} -eq 0 ]; then
                trap stack_cleanup EXIT
                trap 'exit 130' INT
                trap 'exit 143' TERM
                trap 'exit 129' HUP
        fi
        STACK_DEFERRED+=("$1")
}

# stack_tmpdir: sets STACK_TMP to a private directory removed at exit.
stack_tmpdir() {
        if [ -z "$STACK_TMP" ]; then
                STACK_TMP=$(mktemp -d "${TMPDIR:-/tmp}/ew-stack.XXXXXX") ||
                        return 1
                # shellcheck disable=SC2016 # expanded at exit, on purpose
                stack_defer 'rm -rf "$STACK_TMP"'
        fi
}

# stack_pid_alive PID: true while PID runs (a zombie counts as gone).
stack_pid_alive() {
        local stat
        stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
        stat=${stat##*) }
        [ "${stat%% *}" != Z ]
}

# stack_wait_pid PID SECONDS: waits for a child to exit and returns its
# status, or returns 124 (leaving it running) after SECONDS.
stack_wait_pid() {
        local pid=$1 deadline=$((SECONDS + $2))
        while stack_pid_alive "$pid"; do
                if [ $SECONDS -ge $deadline ]; then
                        return 124
                fi
                sleep 0.1
        done
        wait "$pid"
}

EK_PID=""
EK_BOOTSTRAP=""
EK_CONTROL=""
EK_LOG=""

# ek_start [embedded-kafka options...]
#
# Starts embedded-kafka in the background (3 brokers unless --brokers is
# given) with a control socket, waits up to EK_START_TIMEOUT seconds
# (default 10) for its first stdout line and exports:
#   EK_BOOTSTRAP  bootstrap.servers, e.g. 127.0.0.1:40123,127.0.0.1:35111
#   EK_PID        its process id
#   EK_CONTROL    its control socket path (used by ek_ctl)
#   EK_LOG        its stderr file
# Returns non-zero (after printing its stderr) if it fails to start.
ek_start() {
        local bin="${EW_BUILD_DIR:?EW_BUILD_DIR is not set}/embedded-kafka"
        local deadline=$((SECONDS + ${EK_START_TIMEOUT:-10}))
        local out

        if [ -n "$EK_PID" ]; then
                echo "ek_start: already running (pid $EK_PID)" >&2
                return 1
        fi
        if [ ! -x "$bin" ]; then
                echo "ek_start: $bin not built" >&2
                return 1
        fi
        stack_tmpdir || return 1
        EK_CONTROL="$STACK_TMP/ek.sock"
        EK_LOG="$STACK_TMP/ek.err"
        out="$STACK_TMP/ek.out"
        : >"$out"
        "$bin" --control "$EK_CONTROL" --no-stdin "$@" >"$out" 2>"$EK_LOG" \
                </dev/null &
        EK_PID=$!
        stack_defer 'ek_stop >/dev/null 2>&1'

        # The first line is written, flushed, once everything listens.
        while ! head -n 1 "$out" | grep -q .; do
                if ! stack_pid_alive "$EK_PID" || [ $SECONDS -ge $deadline ]
                then
                        echo "ek_start: embedded-kafka did not start:" >&2
                        cat "$EK_LOG" >&2
                        ek_stop >/dev/null 2>&1
                        return 1
                fi
                sleep 0.05
        done
        EK_BOOTSTRAP=$(head -n 1 "$out")
        export EK_BOOTSTRAP EK_PID EK_CONTROL EK_LOG
}

# ek_ctl "COMMAND": sends one control command, prints the one-line reply,
# returns 0 if it starts with "ok", 1 for "error ...", 2 if no reply came
# within EK_CTL_TIMEOUT_MS (default 10000).
ek_ctl() {
        if [ -z "$EK_PID" ]; then
                echo "ek_ctl: embedded-kafka is not running" >&2
                return 2
        fi
        # Word splitting of the command is intended: "broker down 1".
        # shellcheck disable=SC2086
        "$EW_BUILD_DIR/embedded-kafka" --ctl "$EK_CONTROL" \
                --timeout "${EK_CTL_TIMEOUT_MS:-10000}" $1
}

# ek_stop: sends SIGTERM and waits up to 10 s. Returns the broker's exit
# status (0 for a clean stop); if it does not stop, kills it and returns
# 124. A no-op returning 0 if it is not running.
ek_stop() {
        local rc=0
        if [ -z "$EK_PID" ]; then
                return 0
        fi
        kill -TERM "$EK_PID" 2>/dev/null
        stack_wait_pid "$EK_PID" 10
        rc=$?
        if [ $rc -eq 124 ]; then
                kill -KILL "$EK_PID" 2>/dev/null
                wait "$EK_PID" 2>/dev/null
        fi
        EK_PID=""
        return $rc
}
