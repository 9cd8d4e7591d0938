/**
 * What every importer returns: the kstlib config it could write, and a report of each source key it
 * could not carry (never a silent drop) plus notes on what it carried with a change worth knowing.
 * Importers are pure: file text (or parsed data) in, this out; the CLI reads, writes and prints.
 */
import { Result } from "effect"
import { ImportFailed } from "../errors.js"

/** A source key that has no place in the kstlib config, and why. */
export interface NotCarried {
  /** Path in the source file, e.g. `services.web.deploy.replicas`, `apps[0].instances`. */
  readonly where: string
  readonly why: string
  /** The kstlib session it belongs to, when there is one (the YAML puts the line above it). */
  readonly session?: string
}

/** Carried, but not word for word: what it became. */
export interface Note {
  readonly where: string
  readonly what: string
  readonly session?: string
}

export type Session = Record<string, unknown>

export interface ImportedConfig {
  readonly ops: {
    project?: string
    networks?: Record<string, Record<string, unknown>>
    volumes?: Record<string, Record<string, unknown>>
    sessions: Record<string, Session>
  }
}

export interface ImportResult {
  readonly config: ImportedConfig
  readonly notCarried: ReadonlyArray<NotCarried>
  readonly notes: ReadonlyArray<Note>
}

export const FORMATS = ["compose", "pm2", "tmuxp", "tmuxinator", "procfile"] as const
export type Format = (typeof FORMATS)[number]

export interface ImportOptions {
  /** The source file as named in messages. */
  readonly file: string
  /** Absolute directory of the source file: its relative paths are relative to it. */
  readonly sourceDir: string
  /** Absolute directory the kstlib config will live in: relative paths are rewritten for it. */
  readonly outputDir: string
  /** pm2: `--env NAME` merges `env_NAME` over `env`. */
  readonly pm2Env?: string | undefined
  /** Procfile: a `.env` exists next to it (foreman reads it into every process). */
  readonly dotenv?: boolean | undefined
}

export type Imported = Result.Result<ImportResult, ImportFailed>

/** Collects the report while an importer walks the source. */
export class Report {
  readonly notCarried: Array<NotCarried> = []
  readonly notes: Array<Note> = []
  skip(where: string, why: string, session?: string): void {
    this.notCarried.push(session === undefined ? { where, why } : { where, why, session })
  }
  note(where: string, what: string, session?: string): void {
    this.notes.push(session === undefined ? { where, what } : { where, what, session })
  }
  done(config: ImportedConfig): Imported {
    return Result.succeed({ config, notCarried: this.notCarried, notes: this.notes })
  }
}

export const failed = (o: ImportOptions, reason: string): Imported => Result.fail(new ImportFailed({ file: o.file, reason }))

/** `services.web`, `services["my.app"]`, `apps[0]`: a readable path into the source. */
export const at = (base: string, key: string | number): string =>
  typeof key === "number"
    ? `${base}[${key}]`
    : /^[A-Za-z0-9_-]+$/u.test(key)
    ? base === "" ? key : `${base}.${key}`
    : `${base}[${JSON.stringify(key)}]`

export const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

/** A YAML scalar as text (numbers and booleans as written), else null. */
export const scalarText = (u: unknown): string | null =>
  typeof u === "string" ? u : typeof u === "number" && Number.isFinite(u) ? String(u) : typeof u === "boolean" ? String(u) : null

/** What the report says about a value it cannot read: its type, never the value (it may be a secret). */
export const kindOf = (u: unknown): string =>
  u === null ? "null" : Array.isArray(u) ? "a list" : typeof u === "object" ? "a mapping" : `a ${typeof u}`
