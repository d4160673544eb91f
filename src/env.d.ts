// The Worker's settings and secrets belong to `Env` too (see `SettingsBindings` in src/config.ts): one list, the
// config schema's. The bindings wrangler generates (worker-configuration.d.ts) keep their own, narrower types.
interface Env extends Omit<import("./config").SettingsBindings, keyof __BaseEnv_Env> {}
