/** Flag helpers shared by every command. */
import { Flag } from "effect/cli"

/**
 * `withDescription` + `withDefault`, with the default appended to the description: effect/cli's help
 * shows no defaults, and writing the value once keeps the text and the behaviour from drifting apart.
 */
export const withDefaultShown = <const B extends string | number>(description: string, value: B) => <A>(self: Flag.Flag<A>): Flag.Flag<A | B> =>
  self.pipe(Flag.withDescription(`${description} (default: ${value})`), Flag.withDefault(value))
