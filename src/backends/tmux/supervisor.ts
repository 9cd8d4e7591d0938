/**
 * kstlib's tmux supervisor, pure: the pane's process is a small POSIX sh loop that runs the
 * session's command, waits for it and applies the restart policy itself. No daemon, and no tmux
 * hook: tmux 3.3a can lose the SIGCHLD of a pane's process (it then sits as a zombie and
 * `pane-died` never fires), but the supervisor is the one that waits for the command, so a crash
 * is always seen. The pane only dies when the supervisor gives up (or is stopped).
 *
 * The script text is FIXED: no config text is ever pasted into it. The policy, the tmux program
 * and the command's words reach it as positional parameters (data, `"$@"`), so a quote, `$(…)` or
 * `#{…}` in a command or a socket name is only ever an argument. It talks to its own server
 * through the pane's `$TMUX` and `$TMUX_PANE` (set by tmux), never through a socket name.
 */
import { backoffOf, Marks, maxRestarts, restartPolicy } from "../../model.js"
import type { TmuxSpec } from "../../model.js"

/** `$0` of the supervisor (what `ps` shows), and of the one-line trampoline that records the command's pid. */
export const SUPERVISOR_NAME = "kstlib-supervise"

/**
 * Its bookkeeping (`@kstlib-pid`, `@kstlib-last-exit`, `@kstlib-restarts`) is PANE options (`-p`):
 * each pane of a `windows:` session has its own; a format reads a pane's before its session's, so a
 * session of an earlier release (session options) still reads right.
 *
 * Positional parameters: policy (`no`, `on-failure`, `always`), max crashes in a row (empty:
 * unlimited), restart delay, backoff cap, min uptime (milliseconds: sh counts in integers), the
 * tmux program; then the command's words.
 *
 * - The command runs in the FOREGROUND, through `sh -c '…; exec "$@"'`: it keeps the pane's
 *   terminal as stdin and default signal dispositions (a background job of a non-interactive sh
 *   gets /dev/null and SIGINT ignored), and `exec` keeps the pid it recorded in `@kstlib-pid`.
 * - Job control (`set -m`) gives each run its own process group, made the terminal's foreground
 *   group: a Ctrl-C typed into the pane reaches the command only, and tmux shows the command
 *   (`pane_current_command`), not `sh`.
 * - The supervisor traps INT, TERM and QUIT with a handler (never `trap ''`: an ignored signal
 *   stays ignored across exec, the command would inherit it), so a signal sent to the whole pane
 *   (a stop's TERM) does not end it before the command; traps with a handler are reset in the
 *   command. (A stop's first signal spares it.) HUP is NOT trapped: when the pane's terminal hangs
 *   up (`kill-server`, a killed pane or session), the supervisor, the terminal's controlling
 *   process, ends, and the kernel then hangs up the command's group (the terminal's foreground), as
 *   closing a terminal does. Trapped, it outlived the server with its command (a shell defers a
 *   trap while a foreground command runs).
 * - Before any restart it reads `@kstlib-stopped` (a stop through kstlib sets it first), and when
 *   its session is gone (the read fails) it ends: a stop is never undone.
 * - One marker line per run start and end on the pane's output (the log files rely on these forms).
 * - `command -p` finds `date` and `sleep` on the system's PATH whatever the session's PATH is.
 */
export const SUPERVISOR_SCRIPT = [
  `k=$1 m=$2 d0=$3 cap=$4 up=$5 T=$6; shift 6`,
  // no command: the user's shell (a session with a restart policy and no command)
  `[ $# -eq 0 ] && set -- "\${SHELL:-/bin/sh}"`,
  `set -m`,
  `trap : INT TERM QUIT`,
  `o() { "$T" "$@" 2>/dev/null; }`,
  `secs() { printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)); }`,
  `[ "$d0" -gt "$cap" ] && d0=$cap`,
  `n=0 c=0 r=0 d=$d0`,
  `while :; do`,
  `  r=$((r + 1))`,
  `  now=$(command -p date -u '+%s %Y-%m-%dT%H:%M:%SZ')`,
  `  echo "[kstlib] run $r started at \${now#* }"`,
  `  /bin/sh -c '"$0" set-option -p -t "$TMUX_PANE" ${Marks.tmuxPid} "$$" >/dev/null 2>&1; exec "$@"' "$T" "$@"`,
  `  s=$?`,
  `  t=$(command -p date -u +%s)`,
  `  if [ "$s" -gt 128 ] && g=$(kill -l "$((s - 128))" 2>/dev/null); then echo "[kstlib] run $r killed by signal $g"; else echo "[kstlib] run $r exited with code $s"; fi`,
  `  x=$(o set-option -p -t "$TMUX_PANE" ${Marks.tmuxLastExit} "$s" \\; set-option -p -t "$TMUX_PANE" ${Marks.tmuxPid} - \\; show-options -qv -t "$TMUX_PANE" ${Marks.tmuxStopped}) || exit "$s"`,
  `  [ "$x" = 1 ] && exit "$s"`,
  `  [ "$k" = no ] && exit "$s"`,
  `  [ "$k" = on-failure ] && [ "$s" = 0 ] && exit "$s"`,
  // a run that lasted min_uptime was not a crash loop: count and backoff start again, and its
  // restart is not counted (max_restarts: crashes in a row, as pm2's unstable restarts)
  `  l=0; [ $(((t - \${now%% *}) * 1000)) -ge "$up" ] && { c=0; d=$d0; l=1; }`,
  `  [ "$l" = 0 ] && [ -n "$m" ] && [ "$c" -ge "$m" ] && exit "$s"`,
  `  command -p sleep "$(secs "$d")"`,
  `  x=$(o show-options -qv -t "$TMUX_PANE" ${Marks.tmuxStopped}) || exit "$s"`,
  `  [ "$x" = 1 ] && exit "$s"`,
  `  [ "$l" = 1 ] || c=$((c + 1))`,
  `  n=$((n + 1)) d=$((d * 2))`,
  `  [ "$d" -eq 0 ] && d=1000`,
  `  [ "$d" -gt "$cap" ] && d=$cap`,
  `  o set-option -p -t "$TMUX_PANE" ${Marks.tmuxRestarts} "$n" || exit "$s"`,
  `done`
].join("\n")

const ms = (seconds: number) => String(Math.round(seconds * 1000))

/** The pane's argv: the supervisor with the session's policy, then the command's words as data. */
export const supervisedArgv = (spec: TmuxSpec, argv: ReadonlyArray<string>, tmux: string): ReadonlyArray<string> => {
  const { cap, delay, minUptime } = backoffOf(spec)
  const max = maxRestarts(spec)
  return [
    "/bin/sh",
    "-c",
    SUPERVISOR_SCRIPT,
    SUPERVISOR_NAME,
    restartPolicy(spec),
    max === null ? "" : String(max),
    ms(delay),
    ms(cap),
    ms(minUptime),
    tmux,
    ...argv
  ]
}
