/** What loading a config produces: the desired state, entry by entry, valid or rejected. */
import type { ConfigIssue } from "../errors.js"
import type { BackendKind, ConfiguredSpec, RuntimeName } from "../model.js"

export interface SourceLocation {
  readonly file: string
  /** 1-based line of the session's key in that file. */
  readonly line: number | null
}

export type ConfigEntry =
  | {
    readonly _tag: "Valid"
    readonly name: string
    readonly spec: ConfiguredSpec
    readonly source: SourceLocation
  }
  | {
    readonly _tag: "Rejected"
    readonly name: string
    /** The backend the entry asked for (or the default), when that much could be read. */
    readonly backend: BackendKind | null
    readonly issues: ReadonlyArray<ConfigIssue>
    readonly source: SourceLocation
  }

export interface LoadedConfig {
  /** Files merged, lowest priority first (includes before their includer). Empty: no file, defaults only. */
  readonly files: ReadonlyArray<string>
  /** The config files looked for (the cascade, or the one file asked for). */
  readonly searched: ReadonlyArray<string>
  /** The unit of ownership: only this project's sessions are ever stopped, replaced or pruned. */
  readonly project: string
  readonly default_backend: BackendKind
  readonly tmux_binary: string
  readonly container_runtime: RuntimeName | null
  /** In config order. */
  readonly sessions: ReadonlyArray<ConfigEntry>
  /** Problems that reject nothing but deserve a line on stderr (e.g. entries beyond the 50-session cap). */
  readonly warnings: ReadonlyArray<ConfigIssue>
}

export interface LoadOptions {
  /** `--config PATH`: exactly this file (else `KSTLIB_CONFIG`, else the cascade). */
  readonly path?: string | undefined
  /** Defaults to process.cwd(). */
  readonly cwd?: string | undefined
  /** `-p/--project`: overrides KSTLIB_PROJECT, `ops.project` and the directory name. */
  readonly project?: string | undefined
  /** Defaults to process.env (HOME, XDG_CONFIG_HOME, KSTLIB_CONFIG, KSTLIB_PROJECT are read from it). */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined
}
