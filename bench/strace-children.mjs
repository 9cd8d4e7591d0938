// Reads an `strace -f -e trace=execve,clone,clone3,fork,vfork` log of one kstlib run and prints, as JSON,
// the processes kstlib itself spawned: direct children of the node process (or of its threads) that
// exec'd a program. Grandchildren (e.g. podman's own `conmon --version`) are the engine's business and
// are not counted. Usage: node strace-children.mjs FILE
import { readFileSync } from "node:fs"

const lines = readFileSync(process.argv[2], "utf8").split("\n")
const pidOf = (l) => Number.parseInt(l, 10)
const root = pidOf(lines.find((l) => /^\d+/.test(l)) ?? "")
const nodePids = new Set([root]) // the node process and its threads
const children = new Set() // processes forked by node
const unfinished = new Map() // pid -> start of an unfinished clone line
const argvOf = new Map() // child pid -> argv text of its successful execve

const onClone = (pid, text) => {
  const m = /= (\d+)\s*$/.exec(text)
  if (m === null) return
  const child = Number(m[1])
  if (!nodePids.has(pid)) return
  if (/CLONE_THREAD/.test(text)) nodePids.add(child)
  else children.add(child)
}

for (const raw of lines) {
  const l = raw.replace(/^(\d+)\s+(\d\d:\d\d:\d\d\.\d+\s+)?/, "$1 ")
  const pid = pidOf(l)
  if (!Number.isInteger(pid)) continue
  const body = l.slice(String(pid).length + 1)
  if (/^(clone3?|v?fork)\(/.test(body)) {
    if (/<unfinished \.\.\.>\s*$/.test(body)) unfinished.set(pid, body)
    else onClone(pid, body)
  } else if (/^<\.\.\. (clone3?|v?fork) resumed>/.test(body)) {
    onClone(pid, `${unfinished.get(pid) ?? ""} ${body}`)
    unfinished.delete(pid)
  } else if (/^execve\(/.test(body) && /= 0\s*$/.test(body) && !argvOf.has(pid)) {
    const m = /^execve\("[^"]*", \[(.*)\], 0x/.exec(body)
    argvOf.set(pid, m === null ? body : m[1])
  } else if (/^execve\(/.test(body) && /<unfinished \.\.\.>\s*$/.test(body)) {
    unfinished.set(pid, body)
  } else if (/^<\.\.\. execve resumed>.*= 0\s*$/.test(body) && !argvOf.has(pid)) {
    const m = /^execve\("[^"]*", \[(.*)\], 0x/.exec(unfinished.get(pid) ?? "")
    if (m !== null) argvOf.set(pid, m[1])
    unfinished.delete(pid)
  }
}

const commands = [...children].filter((p) => argvOf.has(p)).map((p) =>
  argvOf.get(p).split(/", "/).map((a) => a.replace(/^"|"$/g, "")).slice(0, 4).join(" ")
)
console.log(JSON.stringify({ count: commands.length, commands: commands.sort() }))
