// Types for prometheus.mjs (plain JavaScript so it runs on the system Node), for the TypeScript tests.

export declare const PROMETHEUS_PATH: string;
export declare const PROMTOOL_PATH: string;

/** Installs Debian's `prometheus` when missing (apt-get, root); returns the paths of `prometheus` and `promtool`. */
export declare function ensurePrometheusInstalled(): Promise<{ prometheus: string; promtool: string }>;
