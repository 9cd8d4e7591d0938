/**
 * The tmux side of durable logs, pure: a `pipe-pane` command whose process (awk, on the machine of
 * the pane) appends the pane's output to the session's log file, one time-stamped line per line,
 * terminal escapes and carriage returns removed, rotated by size. The pane keeps its terminal:
 * pipe-pane only copies what tmux reads from it. No config text is pasted into a program: the path
 * is one quoted shell word in the environment of the writer, the sizes are numbers.
 */
import { quoteWord } from "../../command.js"
import type { LogTarget } from "../../logs/target.js"

/**
 * The awk program: `max` (bytes), `keep` and `size` (the file's size now) come as -v numbers, the
 * path as ENVIRON["KSTLIB_LOG"]. The time is `srand()`'s seed (POSIX: the time of day, in seconds:
 * awk has no clock), turned into a UTC date once per second (days to civil date, Hinnant's).
 * Rotation runs KSTLIB_ROTATE (a fixed sh text) with `system`; every line is flushed, so a crash
 * of anything loses nothing written.
 */
export const LOG_WRITER_AWK = [
  `function civil(t,  z, era, doe, yoe, y, doy, mp, d, m) {`,
  `  z = int(t / 86400) + 719468; era = int(z / 146097); doe = z - era * 146097`,
  `  yoe = int((doe - int(doe / 1460) + int(doe / 36524) - int(doe / 146096)) / 365)`,
  `  y = yoe + era * 400; doy = doe - (365 * yoe + int(yoe / 4) - int(yoe / 100)); mp = int((5 * doy + 2) / 153)`,
  `  d = doy - int((153 * mp + 2) / 5) + 1; m = mp < 10 ? mp + 3 : mp - 9; if (m <= 2) y++`,
  `  t = t % 86400`,
  `  return sprintf("%04d-%02d-%02dT%02d:%02d:%02dZ", y, m, d, int(t / 3600), int(t % 3600 / 60), t % 60)`,
  `}`,
  `BEGIN { f = ENVIRON["KSTLIB_LOG"]; last = -1; E = sprintf("%c", 27); B = sprintf("%c", 7)`,
  `  csi = E "\\\\[[0-?]*[ -/]*[@-~]"; osc = E "\\\\][^" B E "]*(" B "|" E "\\\\\\\\)?"; esc = E "[()][0-9A-Za-z]|" E "[=>78cDEHMNOZ]" }`,
  `{ srand(); t = srand(); if (t != last) { last = t; now = civil(t) }`,
  `  line = $0; gsub(osc, "", line); gsub(csi, "", line); gsub(esc, "", line); sub(/\\r+$/, "", line)`,
  `  n = split(line, part, "\\r"); if (n > 1) line = part[n]`,
  `  out = now " " line; size += length(out) + 1`,
  `  if (size > max && length(out) + 1 < size) { close(f); system("eval \\"$KSTLIB_ROTATE\\""); size = length(out) + 1 }`,
  `  print out >> f; fflush(f) }`
].join("\n")

/** NAME.log → .1 → … → .KEEP (the oldest dropped); keep 0: emptied. Reads its paths from the environment only. */
export const ROTATE_SH =
  `f=$KSTLIB_LOG i=$KSTLIB_KEEP; if [ "$i" -eq 0 ]; then : >"$f"; else while [ "$i" -gt 1 ]; do j=$((i - 1)); [ -e "$f.$j" ] && mv -f -- "$f.$j" "$f.$i"; i=$j; done; mv -f -- "$f" "$f.1"; fi`

/** The file as one shell word: its quoted path, or the default place on a host (its HOME and XDG_STATE_HOME). */
export const logWord = (target: LogTarget, project: string, name: string): string =>
  // `name`: the file's name without `.log` in the default place on a host (`api`, `dev.editor.0`)
  target.path !== null
    ? quoteWord(target.path)
    : `"\${XDG_STATE_HOME:-$HOME/.local/state}"/kstlib/logs/${quoteWord(project)}/${quoteWord(name)}.log`

/**
 * The shell command of `pipe-pane`: 0600 files in 0700 directories (umask), mawk told not to buffer
 * (`-W interactive`; other awks read a pipe as it comes), and `#` doubled (tmux expands formats in it).
 */
export const pipeCommand = (target: LogTarget, project: string, name: string): string => {
  const sh = [
    `umask 077`,
    `KSTLIB_LOG=${logWord(target, project, name)} KSTLIB_KEEP=${target.keep} KSTLIB_ROTATE=${quoteWord(ROTATE_SH)}`,
    `export KSTLIB_LOG KSTLIB_KEEP KSTLIB_ROTATE`,
    `mkdir -p -- "$(dirname -- "$KSTLIB_LOG")"`,
    `s=$(wc -c 2>/dev/null <"$KSTLIB_LOG") || s=0`,
    `case $(awk -W version 2>&1 </dev/null) in mawk*) set -- -W interactive ;; *) set -- ;; esac`,
    `exec awk "$@" -v max=${target.maxSize} -v size="$s" ${quoteWord(LOG_WRITER_AWK)}`
  ].join("; ")
  return sh.replaceAll("#", "##").replaceAll("%", "%%")
}

/** The tmux command attaching the writer to a session's pane (replacing a pipe it had). */
export const pipePaneCommand = (paneTarget: string, target: LogTarget, project: string, name: string): ReadonlyArray<string> => [
  "pipe-pane",
  "-t",
  paneTarget,
  pipeCommand(target, project, name)
]
