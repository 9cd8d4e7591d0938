/**
 * What the CLI says about an error on top of the library's message: the flag or command that
 * helps. Library messages name no flag (a program has none); the words here are the CLI's.
 */
import { escapeText } from "../errors.js"

/** The CLI flag of a library option (InvalidInput's `field`). */
const FLAGS: Readonly<Record<string, string>> = {
  path: "--config",
  host: "--host",
  socket: "--socket",
  timeout: "--timeout",
  since: "--since",
  image: "--image",
  volumes: "--volume",
  ports: "--port"
}

interface Tagged {
  readonly _tag?: unknown
  readonly message: string
}

/** The message `kstlib: …` prints for a typed failure. */
export const cliMessage = (e: Tagged & Record<string, unknown>): string => {
  switch (e._tag) {
    case "InvalidInput": {
      const field = String(e["field"])
      return escapeText(`${FLAGS[field] ?? field}: ${String(e["reason"])}`)
    }
    case "SessionExists":
      return `${e.message} Use 'kstlib ops stop ${String(e["session"])}' first.`
    case "SessionAmbiguous":
      return `${e.message} Use --backend, --socket or --host to choose one.`
    case "ApplyLocked":
      return `${e.message} or pass --wait-lock`
    case "SessionNotRunning":
      return e["unreadable"] === undefined || (e["unreadable"] as ReadonlyArray<string>).length === 0
        ? `${e.message}; start it with 'kstlib ops start ${String(e["session"])}'`
        : e.message
    default:
      return e.message
  }
}
