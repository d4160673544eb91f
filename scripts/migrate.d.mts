// Types for migrate.mjs (plain JavaScript so it runs on the system Node), for the TypeScript tests.
export declare function migratePostgres(url: string): void;
export declare function migrateNeo4j(opts: {
  url: string;
  user: string;
  password: string;
  database: string;
}): Promise<void>;
