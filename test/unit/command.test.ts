/** src/command.ts (split, syntax scan, argv) and the deep command check (src/config/command-rules.ts). */
import { describe, expect, it } from "vitest"
import { commandArgv, expandTilde, scanCommand, splitWords } from "../../src/command.js"
import { argvReason, commandSyntaxReason } from "../../src/config/command-rules.js"
import { validateCommand } from "../../src/config/rules.js"
import { fingerprint, hashFingerprint, specHash } from "../../src/testing/specs.js"
import { diffFingerprints } from "../../src/reconcile/plan.js"
import { containerSpec, tmuxSpec } from "../../src/testing/specs.js"

const NO_SHELL = "but no shell runs this command; quote it to pass it as an argument, or set shell: true"
const SHELL_CODE = "is shell code, but no shell runs this command; set shell: true to run shell code"
const runsCode = (w: string) => `'${w}' runs its arguments as shell code, but no shell runs this command; set shell: true to run shell code`

describe("scanCommand", () => {
  it("records what a shell would see as syntax, with its position; quoted metacharacters are bytes", () => {
    const ops = (t: string) => {
      const r = scanCommand(t)
      return r.ok ? r.syntax.map((h) => `${h.op}@${h.index}`) : r.reason
    }
    expect(ops("echo 'a;b' \"c|d\" e\\&f")).toEqual([])
    expect(ops("echo 'a;b' ; x")).toEqual([";@11"])
    expect(ops("a&&b||c|d&e")).toEqual(["&&@1", "||@4", "|@7", "&@9"])
    expect(ops("x 2>/dev/null 1>&2 a2>f")).toEqual(["2>@2", "1>&@14", ">@21"])
    expect(ops("x &>f >>g <<<h <(i) >(j)")).toEqual(["&>@2", ">>@6", "<<<@10", "<(@15", ">(@20"])
    // substitution inside double quotes is still one; a shell escape (\$, \`) or single quotes are not
    expect(ops("echo \"$(id)\" \"`id`\" '$(id)' \"\\$(id)\" \"\\`id\\`\" $HOME ${X}")).toEqual(["$(@6", "`@14", "`@17"])
    // `\\` is an escaped backslash: the `$(` after it is live
    expect(ops("echo \"\\\\$(id)\"")).toEqual(["$(@8"])
  })

  it("words are what will run: quotes removed, backslashes applied", () => {
    expect(splitWords("e''val ex\"\"ec so\\urce . ./x.sh")).toEqual({ ok: true, words: ["eval", "exec", "source", ".", "./x.sh"] })
    expect(splitWords("npm run build -- --source-map")).toEqual({ ok: true, words: ["npm", "run", "build", "--", "--source-map"] })
    expect(splitWords("echo \"\\$x\" '\\n'")).toEqual({ ok: true, words: ["echo", "\\$x", "\\n"] })
    expect(splitWords("")).toEqual({ ok: true, words: [] })
    expect(scanCommand("echo 'x")).toEqual({ ok: false, reason: "no closing quotation (')" })
  })
})

describe("expandTilde (what the original's sh -c did with a leading ~)", () => {
  const homes: Record<string, string> = { "": "/home/me", bob: "/srv/bob", sp: "/home/with space" }
  const expand = (t: string) => expandTilde(t, (u) => homes[u])
  it("the tilde-prefix of an unquoted word; quoted, escaped or inside a word stays literal", () => {
    expect(expand("ls ~ ~/a ~bob ~bob/x '~/q' \"~/d\" \\~/e a~/b --x=~/f")).toEqual({ ok: true, text: "ls /home/me /home/me/a /srv/bob /srv/bob/x '~/q' \"~/d\" \\~/e a~/b --x=~/f" })
    expect(splitWords((expand("cat ~sp/f") as { text: string }).text)).toEqual({ ok: true, words: ["cat", "/home/with space/f"] })
    expect(expand("echo ~\"x\" ~$USER")).toEqual({ ok: true, text: "echo ~\"x\" ~$USER" })
    expect(expand("ls ~nobody-here/x")).toEqual({ ok: false, reason: "cannot expand '~nobody-here': no such user on this machine" })
    expect(expandTilde("ls ~/x", () => undefined)).toEqual({ ok: false, reason: "cannot expand '~': HOME is not set" })
  })
})

describe("commandArgv (one meaning of command: on every backend)", () => {
  it("words without a shell; sh -c with shell: true; null without a command", () => {
    expect(commandArgv({ command: "python train.py --eval", shell: false })).toEqual({ ok: true, argv: ["python", "train.py", "--eval"] })
    expect(commandArgv({ command: "echo a b | wc -w", shell: true })).toEqual({ ok: true, argv: ["sh", "-c", "echo a b | wc -w"] })
    expect(commandArgv({ command: null, shell: true })).toEqual({ ok: true, argv: null })
    expect(commandArgv({ command: "a 'b", shell: false })).toEqual({ ok: false, reason: "invalid command: no closing quotation (')" })
    expect(commandArgv({ command: "  ", shell: false })).toEqual({ ok: false, reason: "invalid command: it is empty" })
  })
})

/** The reproductions of the issue and the usual suspects: each refused with a reason naming it in words. */
const DANGEROUS: ReadonlyArray<readonly [string, string]> = [
  ["sleep 1000 & touch /tmp/p", `unquoted '&' would run a command in the background, ${NO_SHELL}`],
  ["echo x >\"/tmp/p\"", `unquoted '>' would redirect output to a file, ${NO_SHELL}`],
  [">./f", `unquoted '>' would redirect output to a file, ${NO_SHELL}`],
  [">$PWD/f", `unquoted '>' would redirect output to a file, ${NO_SHELL}`],
  [">>~/.f", `unquoted '>>' would redirect output to a file, ${NO_SHELL}`],
  ["app 2>/tmp/err", `unquoted '2>' would redirect output to a file, ${NO_SHELL}`],
  ["app &>/tmp/log", `unquoted '&>' would redirect output to a file, ${NO_SHELL}`],
  ["mysql < dump.sql", `unquoted '<' would redirect input from a file, ${NO_SHELL}`],
  ["diff <(ls a) b", `unquoted '<(…)' would run a command (process substitution), ${NO_SHELL}`],
  ["echo a; touch /tmp/p", `unquoted ';' would chain commands, ${NO_SHELL}`],
  ["make && touch /tmp/p", `unquoted '&&' would chain commands, ${NO_SHELL}`],
  ["false || touch /tmp/p", `unquoted '||' would chain commands, ${NO_SHELL}`],
  ["cat f | sh", `unquoted '|' would pipe into another command, ${NO_SHELL}`],
  ["echo $(touch /tmp/p)", "'$(…)' would run a command (command substitution), but no shell runs this command; put it in single quotes to pass it as an argument, or set shell: true"],
  ["echo \"`touch /tmp/p`\"", "a backtick would run a command (command substitution), but no shell runs this command; put it in single quotes to pass it as an argument, or set shell: true"],
  ["e''val touch /tmp/p", runsCode("eval")],
  ["ex''ec touch /tmp/p", runsCode("exec")],
  ["so\\urce x.sh", runsCode("source")],
  [". ./x.sh", runsCode(".")],
  ["\"ev\"al x", runsCode("eval")],
  ["bash -c $'touch /tmp/p\\x3b echo'", `'bash -c' ${SHELL_CODE}`],
  ["bash -c 'cat <(touch /tmp/p) & wait'", `'bash -c' ${SHELL_CODE}`],
  ["sh -ec 'touch /tmp/p'", `'sh -c' ${SHELL_CODE}`],
  ["/bin/dash -x -c 'touch /tmp/p'", `'dash -c' ${SHELL_CODE}`],
  ["busybox sh -c 'touch /tmp/p'", `'sh -c' ${SHELL_CODE}`],
  ["env A=1 -u B /usr/bin/bash -c x", `'bash -c' ${SHELL_CODE}`],
  ["/usr/bin/env zsh -c x", `'zsh -c' ${SHELL_CODE}`],
  ["nice -n 5 nohup timeout -s KILL 5s setsid stdbuf -o L ksh -c x", `'ksh -c' ${SHELL_CODE}`],
  ["xargs -n 1 sh -c x", `'sh -c' ${SHELL_CODE}`],
  ["bash -o pipefail -c x", `'bash -c' ${SHELL_CODE}`],
  ["nohup eval x", runsCode("eval")],
  ["env -S 'sh -c x'", "'env -S' splits its argument into a command line that cannot be checked; write the words directly, or set shell: true"],
  ["sudo -s x", "'sudo -s' runs the command through a shell, but no shell runs this command; set shell: true to run shell code"],
  ["FOO=1 python app.py", "'FOO=…' would set a variable in a shell, but no shell runs this command; put it under env:, or set shell: true"],
  ["echo 'unclosed", "cannot split the command into words: no closing quotation (')"],
  // programs that take code and hand it to a shell (issue 28): -c options, wherever getopt finds them
  ["flock /tmp/lock -c 'touch /tmp/p'", `'flock -c' ${SHELL_CODE}`],
  ["flock -w 5 /tmp/lock --command x", `'flock --command' ${SHELL_CODE}`],
  ["script -q -c 'touch /tmp/p' /dev/null", `'script -c' ${SHELL_CODE}`],
  ["script /dev/null --command=x", `'script --command' ${SHELL_CODE}`],
  ["su root -c 'touch /tmp/p'", `'su -c' ${SHELL_CODE}`],
  ["su - -lc x nobody", `'su -c' ${SHELL_CODE}`],
  ["runuser -l nobody -c x", `'runuser -c' ${SHELL_CODE}`],
  ["sg users 'touch /tmp/p'", "'sg GROUP COMMAND' runs COMMAND through a shell (sh -c), but no shell runs this command; set shell: true to run shell code"],
  ["watch -n 1 'touch /tmp/p'", "'watch' runs its command through a shell (sh -c), but no shell runs this command; use watch -x to run the words as they are, or set shell: true"],
  ["parallel touch ::: a b", "'parallel' runs its command through a shell (sh -c), but no shell runs this command; set shell: true to run shell code"],
  ["ssh host 'touch /tmp/p'", "'ssh HOST COMMAND' runs COMMAND through the remote login shell, but no shell runs this command; set shell: true to run shell code"],
  ["ssh -p 2222 -o BatchMode=yes user@host -l x touch p", "'ssh HOST COMMAND' runs COMMAND through the remote login shell, but no shell runs this command; set shell: true to run shell code"],
  ["tmux new-session -d -s x 'touch /tmp/p'", "'tmux new-session COMMAND' runs COMMAND through a shell, but no shell runs this command; set shell: true to run shell code"],
  ["tmux -L s new -d touch p", "'tmux new COMMAND' runs COMMAND through a shell, but no shell runs this command; set shell: true to run shell code"],
  ["tmux new-session -d \\; run-shell 'touch /tmp/p'", "'tmux run-shell' runs shell code, but no shell runs this command; set shell: true to run shell code"],
  ["tmux set-hook -g session-created 'run-shell x'", "'tmux run-shell' runs shell code, but no shell runs this command; set shell: true to run shell code"],
  ["tmux send-keys -t x 'touch /tmp/p' Enter", "'tmux send-keys' types into a shell, but no shell runs this command; set shell: true to run shell code"],
  ["tmux -c 'touch /tmp/p'", `'tmux -c' ${SHELL_CODE}`],
  ["find . -maxdepth 0 -exec sh -c 'touch /tmp/p' \\;", `'sh -c' ${SHELL_CODE}`],
  ["find . -execdir bash -c x {} +", `'bash -c' ${SHELL_CODE}`],
  ["find . -ok eval x \\;", runsCode("eval")],
  // programs that run the rest of their argv as a command: the wrapped command is checked
  ["chroot / sh -c x", `'sh -c' ${SHELL_CODE}`],
  ["chroot --userspec=1:1 /srv/root bash -c x", `'bash -c' ${SHELL_CODE}`],
  ["unshare -r -S 0 sh -c x", `'sh -c' ${SHELL_CODE}`],
  ["prlimit --nofile=1024 -p 1 sh -c x", `'sh -c' ${SHELL_CODE}`],
  ["runuser -u nobody -- sh -c x", `'sh -c' ${SHELL_CODE}`],
  ["systemd-run --user -p MemoryMax=1G --unit x sh -c x", `'sh -c' ${SHELL_CODE}`],
  ["nsenter -t 1 -m sh -c x", `'sh -c' ${SHELL_CODE}`],
  ["setpriv --reuid 1000 sh -c x", `'sh -c' ${SHELL_CODE}`],
  ["gosu nobody sh -c x", `'sh -c' ${SHELL_CODE}`],
  ["tini -- sh -c x", `'sh -c' ${SHELL_CODE}`],
  ["dumb-init -c sh -c x", `'sh -c' ${SHELL_CODE}`],
  ["strace -f -o /dev/null sh -c x", `'sh -c' ${SHELL_CODE}`],
  ["flock /tmp/lock sh -c x", `'sh -c' ${SHELL_CODE}`],
  ["watch -x sh -c x", `'sh -c' ${SHELL_CODE}`],
  ["screen -dmS x sh -c x", `'sh -c' ${SHELL_CODE}`],
  ["screen -S x -X stuff 'touch /tmp/p'", "'screen -X' sends commands to a screen session, but no shell runs this command; set shell: true to run shell code"]
]

describe("deep check", () => {
  it.each(DANGEROUS)("refuses %j", (command, reason) => {
    expect(validateCommand(command)).toBe(reason)
    // ...and every one is fine as shell code, where the author says a shell runs it
    if (!command.includes("unclosed")) expect(validateCommand(command, { shell: true })).toBeNull()
  })

  it.each([
    "bash script.sh -c x", // -c after the script is the script's argument
    "bash -x ./run.sh",
    "bash",
    "sh -s",
    "env FOO=1 python app.py",
    "timeout 5 sleep 1",
    "nice -n 10 python job.py --eval",
    "python -c 'import sys; print(sys.argv)'",
    "echo .",
    "node -e 'console.log(1)'",
    "./source.sh",
    "python exec.py",
    "xargs -I{} echo {}",
    // the same programs, running no shell
    "flock /tmp/lock python job.py",
    "flock -n /tmp/lock ./run.sh -c x", // -c after the command is the command's
    "su -l nobody",
    "script -q out.log",
    "watch -x -n 1 ls -l",
    "ssh host",
    "ssh -p 22 -l deploy host",
    "tmux new-session -d -s work",
    "tmux new-session -s run", // a session named like a command
    "tmux attach -t work",
    "find . -name '*.py' -exec wc -l {} +",
    "find . -exec grep -c x {} \\;",
    "chroot /srv/root /usr/bin/python3 app.py",
    "gosu app python app.py",
    "tini -- python app.py",
    "dumb-init python app.py",
    "systemd-run --user --unit x python app.py",
    "runuser -u app -- python app.py"
  ])("accepts %j", (command) => {
    expect(commandSyntaxReason(command)).toBeNull()
  })

  it("argvReason sees words as given (exec -- ARGV)", () => {
    expect(argvReason(["echo", "a;b"])).toBeNull()
    expect(argvReason([])).toBe("the command is empty")
    expect(argvReason(["bash", "-lc", "x"])).toBe(`'bash -c' ${SHELL_CODE}`)
  })
})

describe("shell in the fingerprint", () => {
  it("absent when false (existing sessions keep their hash), present when true (changing it is drift)", () => {
    const plain = tmuxSpec("web", { command: "node server.js" })
    const shelled = tmuxSpec("web", { command: "node server.js", shell: true })
    // The recipe as it was before `shell` existed.
    const before = { backend: "tmux", command: "node server.js", working_dir: "/srv/app", env: {}, socket_name: null }
    expect(fingerprint(plain)).toEqual(before)
    expect(specHash(plain)).toBe(hashFingerprint(before))
    expect(fingerprint(shelled)).toEqual({ ...before, shell: true })
    expect(specHash(shelled)).not.toBe(specHash(plain))
    expect(diffFingerprints(fingerprint(plain), fingerprint(shelled))).toEqual([{ field: "shell", from: "false", to: "true" }])
    const box = containerSpec("api", { command: "sh -c x", shell: true })
    expect(fingerprint(box)["shell"]).toBe(true)
    expect("shell" in fingerprint(containerSpec("api"))).toBe(false)
  })
})
