/**
 * Following a session's log in a Scope: the follower (tmux's pipe, the engine's `logs -f`, the log
 * file) runs in the background for as long as the scope is open, and is interrupted when it closes.
 */
import { Effect, Stream } from "effect"
import { Kstlib } from "kstlib"

/** Starts following `name` (its last `lines` lines first) into `onLine`; stops when the caller's scope closes. */
export const followInScope = <E, R>(name: string, onLine: (line: string) => Effect.Effect<void, E, R>, lines = 10) =>
  Effect.gen(function*() {
    const kstlib = yield* Kstlib
    return yield* kstlib.session(name).follow({ lines }).pipe(Stream.runForEach(onLine), Effect.forkScoped)
  })
