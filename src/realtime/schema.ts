import { buildSchema, type GraphQLSchema } from "graphql";
import { typeDefs } from "../graphql/schema.graphql";

let schema: GraphQLSchema | null = null;

/** The executable-for-rendering schema: subscription payloads are mapped through it, resolvers not needed. */
export function realtimeSchema(): GraphQLSchema {
  schema ??= buildSchema(typeDefs);
  return schema;
}
