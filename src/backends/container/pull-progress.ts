/**
 * Who hears about image pulls while they run: the CLI's live line on a terminal (cli/progress.ts).
 * Absent (the default: a library call, a pipe, `--json`), a pull runs quiet (`pull -q`) and is only
 * heard of when it fails, in the launch's error.
 */
import { Context } from "effect"

export interface PullEvent {
  readonly session: string
  readonly image: string
  readonly registry: string
}

/** Called synchronously from the pull: must not throw, must not block. */
export interface PullReporter {
  readonly began: (pull: PullEvent) => void
  /** One line of the engine's own progress output (untrusted text: escape before showing it). */
  readonly line: (pull: PullEvent, text: string) => void
  /** `failure`: the engine's message, or null when the image is now there. */
  readonly ended: (pull: PullEvent, failure: string | null) => void
}

export const PullProgress = Context.Reference<PullReporter | null>("kstlib/PullProgress", { defaultValue: () => null })
