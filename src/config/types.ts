/** What loading a config produces: the desired state, entry by entry, valid or rejected. */
import type { ConfigIssue } from "../errors.js"
import type { BackendKind, ConfiguredSpec, DeclaredNetwork, HostSpec, RuntimeName } from "../model.js"

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
  readonly default_backend: BackendKind
  readonly tmux_binary: string
  readonly container_runtime: RuntimeName | null
  /** `ops.hosts`, in config order (absent: none). */
  readonly hosts?: ReadonlyArray<HostSpec>
  /** `ops.networks`, in config order (absent: none). */
  readonly networks?: ReadonlyArray<DeclaredNetwork>
  /** `ops.volumes` names, in config order (absent: none). */
  readonly volumes?: ReadonlyArray<string>
  /** In config order. */
  readonly sessions: ReadonlyArray<ConfigEntry>
  /** Problems that reject nothing but deserve a line on stderr. */
  readonly warnings: ReadonlyArray<ConfigIssue>
  /**
   * The unit of ownership: `LoadOptions.project` > `KSTLIB_PROJECT` > `ops.project` > the name of
   * the directory of the highest-priority config file (the working directory when there is none),
   * normalised as docker compose does.
   */
  readonly project: string
  /**
   * The paths looked at: the cascade in order (or the one file asked for). With `files` empty,
   * `new ConfigNotFound({ path: null, searched })` is the error for commands that need a config.
   */
  readonly searched: ReadonlyArray<string>
  /**
   * Every file whose change may change this load (`ops watch` reloads on them): the cascade's paths
   * (also those absent: one may appear), the files merged and included, the `.env` next to the
   * highest-priority file, and each session's `env_file`s. Absent on a config built by hand.
   */
  readonly inputs?: ReadonlyArray<string>
}

export interface LoadOptions {
  /** `--config PATH`: exactly this file (else `KSTLIB_CONFIG`, else the cascade). `""` is refused (InvalidInput). */
  readonly path?: string | undefined
  /** `-p/--project`: wins over `KSTLIB_PROJECT` and `ops.project`; an invalid name is refused (InvalidInput). */
  readonly project?: string | undefined
  /** Defaults to process.cwd(). */
  readonly cwd?: string | undefined
  /** Defaults to process.env (HOME, XDG_CONFIG_HOME, KSTLIB_CONFIG, KSTLIB_PROJECT, and the variables `${VAR}` interpolates). */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined
}
