/**
 * Sessions a user stopped through kstlib (`stop NAME`, `down`): `ops watch` leaves them stopped
 * until they are started through kstlib again (`start`, `restart`, `apply`). tmux's own stop mark
 * cannot carry this (`stop` removes the tmux session, and a removed container has no labels), so
 * the record is a file per project in kstlib's state directory: `<state>/holds/<project>.json`, a
 * JSON array of session names, replaced atomically (written aside, then renamed).
 *
 * Recording is best effort: a state directory that cannot be written costs a warning, never the
 * stop itself (the worst case is a watcher starting again a session the user stopped).
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Context, Effect } from "effect"
import { stateDir } from "../spec/digest-key.js"
import type { ExecuteReport, StepResult } from "./execute.js"
import type { Plan } from "./plan.js"
import { holdsSession } from "./plan.js"

/** The directory of the holds files (`<state>/holds`); null: none (no HOME). A test gives its own. */
export const HoldsDirectory = Context.Reference<string | null>("kstlib/HoldsDirectory", {
  defaultValue: () => {
    const dir = stateDir()
    return dir === null ? null : path.join(dir, "holds")
  }
})

const fileIn = (dir: string | null, project: string) => (dir === null ? null : path.join(dir, `${project}.json`))

/** The file holding `project`'s holds (null: no state directory, no HOME). Project names are file-name safe (config/rules). */
export const holdsFile = (project: string, env: Readonly<Record<string, string | undefined>> = process.env): string | null => {
  const dir = stateDir(env)
  return dir === null ? null : path.join(dir, "holds", `${project}.json`)
}

/** The names held for `project` (none when the file is absent or unreadable). */
export const readHolds = (project: string, env: Readonly<Record<string, string | undefined>> = process.env): ReadonlyArray<string> =>
  readFile(holdsFile(project, env))

/** The names held for `project`, in the holds directory of the context. */
export const currentHolds = (project: string): Effect.Effect<ReadonlyArray<string>> =>
  Effect.map(HoldsDirectory, (dir) => readFile(fileIn(dir, project)))

const readFile = (file: string | null): ReadonlyArray<string> => {
  if (file === null) return []
  try {
    const parsed: unknown = JSON.parse(fs.readFileSync(file, "utf8"))
    return Array.isArray(parsed) ? parsed.filter((n): n is string => typeof n === "string") : []
  } catch {
    return []
  }
}

const writeHolds = (file: string, names: ReadonlyArray<string>) => {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 })
  const tmp = `${file}.${process.pid}.tmp`
  fs.writeFileSync(tmp, `${JSON.stringify([...names].sort())}\n`, { mode: 0o600 })
  fs.renameSync(tmp, file)
}

/**
 * Adds `held` and removes `released` from the project's holds (one read, one write): in the holds
 * directory of the context, or of `env`'s state directory when given.
 */
export const updateHolds = (
  project: string,
  change: { readonly held: ReadonlyArray<string>; readonly released: ReadonlyArray<string> },
  env?: Readonly<Record<string, string | undefined>>
): Effect.Effect<void> =>
  Effect.flatMap(HoldsDirectory, (dir) => Effect.suspend(() => {
    const file = env === undefined ? fileIn(dir, project) : holdsFile(project, env)
    if (file === null || (change.held.length === 0 && change.released.length === 0)) return Effect.void
    const before = readFile(file)
    const after = new Set([...before.filter((n) => !change.released.includes(n)), ...change.held])
    if (after.size === before.length && before.every((n) => after.has(n))) return Effect.void
    try {
      writeHolds(file, [...after])
      return Effect.void
    } catch (e) {
      return Effect.logWarning(`cannot record stopped sessions in ${file}: ${(e as Error).message}`)
    }
  }))

/**
 * What a run through the executor means for the holds: a session stopped on request (`stop NAME`)
 * or removed by `down` is held; one launched (created, started, replaced) is released. A stop
 * because the config says `state: stopped` is not a hold: the config already says it, and a later
 * `state: running` must start it.
 */
export const holdsOf = (results: ReadonlyArray<StepResult>) => {
  const ok = results.filter((r) => r.error === null)
  return {
    held: ok.filter((r) => holdsSession(r.step)).map((r) => r.step.session),
    released: ok.filter((r) => r.step._tag === "Create" || r.step._tag === "Start" || r.step._tag === "Replace").map((r) => r.step.session)
  }
}

/**
 * Before a plan that stops sessions on request runs: they are held at once, so a watcher pass that
 * sees one exit while its stop is under way (the engine killed the process, kstlib has not deleted
 * the container yet) leaves it alone instead of starting it again. Returns the names held here that
 * were not held before: `recordHolds` withdraws those whose stop then failed.
 */
export const holdAhead = (project: string, plan: Plan): Effect.Effect<ReadonlyArray<string>> =>
  Effect.flatMap(currentHolds(project), (before) => {
    const ahead = [...new Set(plan.steps.filter(holdsSession).map((s) => s.session))].filter((n) => !before.includes(n))
    return updateHolds(project, { held: ahead, released: [] }).pipe(Effect.as(ahead))
  })

/** After a run through the executor: its holds (holdsOf), and the holds taken ahead (holdAhead) of stops that failed withdrawn. */
export const recordHolds = (project: string, report: ExecuteReport, ahead: ReadonlyArray<string> = []): Effect.Effect<void> => {
  const change = holdsOf(report.results)
  return updateHolds(project, { held: change.held, released: [...change.released, ...ahead.filter((n) => !change.held.includes(n))] })
}
