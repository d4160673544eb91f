# `opa test policy/ --coverage` (run by `npm test`; coverage must stay >= 95 %).
package coherence.authz_test

import data.coherence.authz

tenant_token(scopes) := {"tenant": "acme", "scopes": scopes}

operator_token(scopes) := {"tenant": "*", "scopes": scopes}

decide(action, principal, tenants) := d if {
	d := authz.decision with input as {"action": action, "principal": principal, "resource": {"tenantIds": tenants}}
}

scope_only(action, principal) := d if {
	d := authz.decision with input as {"action": action, "principal": principal}
}

# --- tenant actions -------------------------------------------------------------------------------------------

test_ingest_own_tenant_allowed if {
	d := decide("ingest", tenant_token(["coherence:write"]), ["acme"])
	d.allow
	d.scope_ok
	d.reason == "allowed"
}

test_ingest_batch_with_a_foreign_tenant_denied if {
	d := decide("ingest", tenant_token(["coherence:write"]), ["acme", "globex"])
	not d.allow
	d.scope_ok
	d.reason == "tenant_mismatch"
}

test_ingest_without_tenants_denied if {
	d := decide("ingest", tenant_token(["coherence:write"]), [])
	not d.allow
	d.reason == "tenant_mismatch"
}

test_ingest_read_scope_denied if {
	d := decide("ingest", tenant_token(["coherence:read"]), ["acme"])
	not d.allow
	not d.scope_ok
	d.reason == "missing_scope"
}

test_graphql_precheck_decides_on_scope_alone if {
	d := scope_only("graphql", tenant_token(["coherence:read"]))
	d.allow
	d.scope_ok
	scope_only("graphql", tenant_token(["finops:read"])).allow
	scope_only("graphql", operator_token(["finops:read"])).allow
	scope_only("graphql", operator_token(["coherence:write"])).reason == "operator_not_allowed"
	scope_only("graphql", operator_token(["metrics:read"])).reason == "operator_not_allowed"
}

test_scope_stage_without_resource if {
	d := scope_only("ingest", tenant_token(["coherence:write"]))
	d.scope_ok
	not d.allow
	d.reason == "tenant_mismatch"
}

test_graphql_any_graphql_scope if {
	scope_only("graphql", tenant_token(["coherence:read"])).scope_ok
	scope_only("graphql", tenant_token(["coherence:write"])).scope_ok
	scope_only("graphql", tenant_token(["finops:read"])).scope_ok
	not scope_only("graphql", tenant_token(["metrics:read", "ops:write"])).scope_ok
}

test_query_needs_read_and_own_tenant if {
	decide("graphql_query", tenant_token(["coherence:read"]), ["acme"]).allow
	not decide("graphql_query", tenant_token(["coherence:write"]), ["acme"]).allow
	decide("graphql_query", tenant_token(["coherence:read"]), ["globex"]).reason == "tenant_mismatch"
}

test_mutation_needs_write if {
	decide("graphql_mutation", tenant_token(["coherence:write"]), ["acme"]).allow
	decide("graphql_mutation", tenant_token(["coherence:read"]), ["acme"]).reason == "missing_scope"
}

test_subscribe_needs_read_and_own_tenant if {
	decide("subscribe", tenant_token(["coherence:read"]), ["acme"]).allow
	not decide("subscribe", tenant_token(["coherence:read"]), ["globex"]).allow
	not decide("subscribe", tenant_token([]), ["acme"]).allow
}

test_provenance_needs_read_and_own_tenant if {
	decide("provenance_read", tenant_token(["coherence:read"]), ["acme"]).allow
	decide("provenance_read", tenant_token(["coherence:write"]), ["acme"]).reason == "missing_scope"
	decide("provenance_read", tenant_token(["coherence:read"]), ["globex"]).reason == "tenant_mismatch"
	scope_only("provenance_read", tenant_token(["coherence:read"])).scope_ok
	not scope_only("provenance_read", tenant_token(["finops:read"])).scope_ok
}

test_look_alike_scopes_do_not_count if {
	not decide("ingest", tenant_token(["coherence:writer", "coherence"]), ["acme"]).allow
	not decide("graphql_query", tenant_token(["Coherence:Read"]), ["acme"]).allow
}

test_operator_never_touches_coherence_data if {
	every action in authz.tenant_actions {
		d := decide(action, operator_token(["coherence:read", "coherence:write"]), ["*"])
		not d.allow
		not d.scope_ok
		d.reason == "operator_not_allowed"
	}
}

# --- operator and FinOps actions ------------------------------------------------------------------------------

test_dlq_for_operators_only if {
	decide("dlq_read", operator_token(["metrics:read"]), []).allow
	decide("dlq_replay", operator_token(["ops:write"]), []).allow
	d := decide("dlq_read", tenant_token(["metrics:read"]), ["acme"])
	not d.allow
	d.reason == "operator_only"
	decide("dlq_replay", tenant_token(["ops:write"]), []).reason == "operator_only"
	decide("dlq_replay", operator_token(["metrics:read"]), []).reason == "missing_scope"
}

test_overview_for_operators_only if {
	decide("overview_read", operator_token(["coherence:read"]), []).allow
	decide("overview_read", operator_token(["metrics:read"]), []).reason == "missing_scope"
	decide("overview_read", tenant_token(["coherence:read"]), []).reason == "operator_only"
	# An operator past the GraphQL check with coherence:read still never reads one tenant's coherence data.
	scope_only("graphql", operator_token(["coherence:read"])).allow
	decide("graphql_query", operator_token(["coherence:read"]), ["acme"]).reason == "operator_not_allowed"
}

test_live_overview_for_operators_only if {
	d := decide("overview_subscribe", operator_token(["coherence:read"]), [])
	d.allow
	d.reason == "allowed"
	scope_only("overview_subscribe", operator_token(["coherence:read"])).scope_ok
	decide("overview_subscribe", operator_token(["metrics:read", "finops:read"]), []).reason == "missing_scope"
	# A tenant's token never opens the overview, whatever its scopes or the tenants it names.
	t := decide("overview_subscribe", tenant_token(["coherence:read", "coherence:write"]), ["acme"])
	not t.allow
	not t.scope_ok
	t.reason == "operator_only"
	not scope_only("overview_subscribe", tenant_token(["coherence:read"])).scope_ok
	# The operator path is no tenant: a tenant's `subscribe` to tenant "*" is refused, and so is the operator's.
	decide("subscribe", tenant_token(["coherence:read"]), ["*"]).reason == "tenant_mismatch"
	decide("subscribe", operator_token(["coherence:read"]), ["*"]).reason == "operator_not_allowed"
}

test_finops_overview_for_operators_only if {
	scope_only("finops_overview_read", operator_token(["finops:read"])).allow
	scope_only("finops_overview_read", operator_token(["metrics:read"])).reason == "missing_scope"
	# A tenant's FinOps token reads its own counters (finops_read) but never every tenant's (tenantId=*).
	d := scope_only("finops_overview_read", tenant_token(["finops:read"]))
	not d.allow
	d.reason == "operator_only"
	decide("finops_read", tenant_token(["finops:read"]), ["acme"]).allow
}

test_switches_for_operators_only if {
	decide("switches_read", operator_token(["metrics:read"]), []).allow
	decide("switches_read", operator_token(["ops:write"]), []).reason == "missing_scope"
	decide("switches_write", operator_token(["ops:write"]), []).allow
	decide("switches_write", operator_token(["metrics:read"]), []).reason == "missing_scope"
	decide("switches_write", tenant_token(["ops:write"]), []).reason == "operator_only"
	not decide("switches_read", tenant_token(["metrics:read", "ops:write"]), ["acme"]).allow
}

test_finops_operator_reads_any_tenant if {
	decide("finops_read", operator_token(["finops:read"]), ["globex"]).allow
}

test_finops_tenant_reads_only_itself if {
	decide("finops_read", tenant_token(["finops:read"]), ["acme"]).allow
	decide("finops_read", tenant_token(["finops:read"]), ["globex"]).reason == "tenant_mismatch"
	decide("finops_read", tenant_token(["coherence:read"]), ["acme"]).reason == "missing_scope"
}

test_metrics_needs_metrics_scope if {
	decide("metrics_read", operator_token(["metrics:read"]), []).allow
	decide("metrics_read", tenant_token(["metrics:read"]), []).allow
	decide("metrics_read", operator_token(["finops:read"]), []).reason == "missing_scope"
}

# --- malformed input ------------------------------------------------------------------------------------------

test_unknown_action_denied if {
	d := decide("drop_tables", tenant_token(["coherence:write"]), ["acme"])
	not d.allow
	not d.scope_ok
	d.reason == "unknown_action"
}

test_missing_principal_denied if {
	d := authz.decision with input as {"action": "ingest", "resource": {"tenantIds": ["acme"]}}
	not d.allow
	d.reason == "missing_scope"
}

test_empty_input_denied if {
	d := authz.decision with input as {}
	not d.allow
	d.reason == "unknown_action"
}
