// The Worker's settings and secrets belong to `Env` too (see `SettingsBindings` in src/config.ts): one list, the
// config schema's. The bindings wrangler generates (worker-configuration.d.ts) keep their own, narrower types.
interface Env extends Omit<import("./config").SettingsBindings, keyof __BaseEnv_Env> {}

// Deployed environments bind the Worker's version metadata (wrangler.toml `[env.*.version_metadata]`), so metrics
// tell a gradual deployment's versions apart; local and test runs have no such binding.
interface Env {
  CF_VERSION_METADATA?: WorkerVersionMetadata;
}
