import { createSchema } from "graphql-yoga";
import type { GraphQLServerContext } from "./context";
import { resolvers } from "./resolvers";
import { typeDefs } from "./schema.graphql";

/** The executable schema, built once per isolate; yoga and the persisted fast path (execute.ts) share it. */
export const schema = createSchema<GraphQLServerContext>({ typeDefs, resolvers });
