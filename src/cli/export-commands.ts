/** `kstlib ops export --format kubernetes`: the config's container sessions as manifests. Reads the config only. */
import { Effect } from "effect"
import { Command, Flag } from "effect/cli"
import { kubernetesManifests } from "../export/kubernetes.js"
import { EnvDigests, layerFromStateDir } from "../spec/digest-key.js"
import { loadFromFlags, reportConfigProblems } from "./app.js"
import { withDefaultShown } from "./flags.js"

const exportCommand = Command.make("export", {
  format: Flag.Literals("format", ["kubernetes"]).pipe(Flag.withDescription("Output format (default: kubernetes)."), Flag.withDefault("kubernetes" as const)),
  includeSecrets: Flag.Boolean("include-secrets").pipe(
    Flag.withDescription("Print the Secret manifests WITH the env values (base64). Default: a commented stub with the keys only."),
    Flag.withDefault(false)
  ),
  imagePullPolicy: Flag.Literals("image-pull-policy", ["IfNotPresent", "Never", "Always"]).pipe(
    withDefaultShown("imagePullPolicy of every container.", "IfNotPresent")
  )
}, (f) =>
  Effect.gen(function*() {
    const config = yield* loadFromFlags
    yield* reportConfigProblems(config)
    const text = kubernetesManifests(config.sessions, {
      project: config.project,
      includeSecrets: f.includeSecrets,
      imagePullPolicy: f.imagePullPolicy,
      sources: config.files,
      digest: yield* EnvDigests
    })
    yield* Effect.sync(() => process.stdout.write(text))
  }).pipe(Effect.provide(layerFromStateDir))).pipe(
  Command.withDescription(
    "Print Kubernetes manifests (multi-document YAML) for the config's container sessions: a Deployment each, env through a Secret (values only with --include-secrets). tmux sessions are skipped."
  ),
  Command.withExamples([
    { command: "kstlib ops export --format kubernetes > k8s.yml", description: "Deployments + Secret stubs (keys only)" },
    { command: "kstlib ops export --format kubernetes --include-secrets | kubectl apply -f -", description: "With the env values" }
  ])
)

export const exportCommands = [exportCommand] as const
