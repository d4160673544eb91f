# Tenant-scoped ABAC for the coherence service: the seed's `graphql.allow` rule, generalized to every
# operation the service answers. Compiled to Wasm (`npm run policy:build`) and evaluated inside the Worker
# and the tenant Durable Objects on every request and every subscribe (src/auth/authz.ts).
#
# input:
#   action:    one of the keys of `grants` below
#   principal: {"tenant": "<tenant id>" | "*", "scopes": ["coherence:read", ...]}  (a verified JWT)
#   resource:  {"tenantIds": ["<tenant id>", ...]}  (the tenants the request touches; absent when a caller
#              only asks whether the scope suffices, before it has parsed the request)
#
# output (entrypoint coherence/authz/decision):
#   {"allow": bool, "scope_ok": bool, "reason": "allowed" | "unknown_action" | "operator_not_allowed" |
#    "operator_only" | "missing_scope" | "tenant_mismatch"}
package coherence.authz

# The scopes that grant each action; any one of them suffices.
grants := {
	"ingest": {"coherence:write"},
	"graphql": {"coherence:read", "coherence:write", "finops:read"},
	"graphql_query": {"coherence:read"},
	"graphql_mutation": {"coherence:write"},
	"subscribe": {"coherence:read"},
	"finops_read": {"finops:read"},
	"finops_overview_read": {"finops:read"},
	"provenance_read": {"coherence:read"},
	"metrics_read": {"metrics:read"},
	"dlq_read": {"metrics:read"},
	"dlq_replay": {"ops:write"},
	"switches_read": {"metrics:read"},
	"switches_write": {"ops:write"},
	"overview_read": {"coherence:read"},
	"overview_subscribe": {"coherence:read"},
}

# Actions on one tenant's coherence data: never for operator tokens, only on the token's own tenant.
tenant_actions := {"ingest", "graphql_query", "graphql_mutation", "subscribe", "provenance_read"}

# `graphql` is the check before a GraphQL request's operation is known: any scope a GraphQL operation can use.
# It decides on scopes alone; the operation's own action then decides on the tenant.

# Actions across every tenant's data (dead letters hold signals of many tenants): operator tokens only.
# The overview of every tenant's score (status, score, counts; no signals) is one of them, read once
# (`overview_read`) or live over the realtime endpoint's operator path `/v1/tenants/*/graphql`
# (`overview_subscribe`: its ticket, its upgrade, its connection_init and its subscribe); and so is FinOps'
# all-tenant view (every tenant's counters and cost; `tenantId=*`).
operator_actions := {
	"dlq_read", "dlq_replay", "switches_read", "switches_write", "overview_read", "overview_subscribe",
	"finops_overview_read",
}

default allow := false

default scope_ok := false

operator if input.principal.tenant == "*"

known_action if grants[input.action]

scope_granted if {
	some scope in grants[input.action]
	scope in input.principal.scopes
}

# Operator tokens (tenant "*") never read or write coherence data (contract §1).
operator_misuse if {
	operator
	input.action in tenant_actions
}

# Over GraphQL an operator can only read FinOps usage and the tenants' overview.
operator_misuse if {
	operator
	input.action == "graphql"
	not "finops:read" in input.principal.scopes
	not "coherence:read" in input.principal.scopes
}

# Cross-tenant operations are for operators only.
not_an_operator if {
	not operator
	input.action in operator_actions
}

scope_ok if {
	scope_granted
	not operator_misuse
	not not_an_operator
}

# Every tenant the request touches is the token's own, and it touches at least one.
own_tenants if {
	count(input.resource.tenantIds) > 0
	every tenant in input.resource.tenantIds {
		tenant == input.principal.tenant
	}
}

resource_ok if {
	input.action in tenant_actions
	own_tenants
}

resource_ok if input.action in operator_actions

resource_ok if input.action == "graphql"

# FinOps: an operator reads any tenant, a tenant reads only itself.
resource_ok if {
	input.action == "finops_read"
	operator
}

resource_ok if {
	input.action == "finops_read"
	own_tenants
}

# Metrics are aggregates without tenant data.
resource_ok if input.action == "metrics_read"

allow if {
	scope_ok
	resource_ok
}

reason := "unknown_action" if {
	not known_action
} else := "operator_not_allowed" if {
	operator_misuse
} else := "operator_only" if {
	not_an_operator
} else := "missing_scope" if {
	not scope_granted
} else := "tenant_mismatch" if {
	not resource_ok
} else := "allowed"

decision := {"allow": allow, "scope_ok": scope_ok, "reason": reason}
