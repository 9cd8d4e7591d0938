/** The config module's public surface. */
export * from "./rules.js"
export { argvReason, commandSyntaxReason } from "./command-rules.js"
export { configJsonSchema, ConfigFile, ContainerSession, Ops, Session, TmuxSession } from "./schema.js"
export { decodeSessionEntry, type DecodeContext, type SessionDefaults } from "./decode/index.js"
export {
  cascadePaths,
  CONFIG_FILENAME,
  loadConfig,
  MAX_CONFIG_FILE_SIZE,
  MAX_CONFIG_FILES,
  MAX_INCLUDE_DEPTH,
  MAX_INCLUDES,
  MAX_LOAD_BYTES,
  MAX_LOAD_NODES
} from "./load.js"
export type { ConfigEntry, LoadedConfig, LoadOptions, SourceLocation } from "./types.js"
