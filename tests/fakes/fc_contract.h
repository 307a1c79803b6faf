/*
 * fc_contract.h — the Firecracker API contract (Swagger 2.0 YAML) as the
 * fake's only source of truth for paths, methods and body schemas.
 *
 * Nothing here knows a particular endpoint: a request is routed by matching
 * its path against the `paths` templates and its body is checked against the
 * body parameter's schema, `$ref`s resolved in `definitions`.
 */
#ifndef FC_CONTRACT_H
#define FC_CONTRACT_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

struct fc_contract {
	json_t *root;        /* owned: the whole document */
	json_t *paths;       /* borrowed from root */
	json_t *definitions; /* borrowed from root */
	const char *version; /* borrowed: info.version */
};

/* The match of one request against the contract; fc_route_clear() frees. */
struct fc_route {
	const char *tmpl;  /* e.g. "/drives/{drive_id}" (borrowed) */
	json_t *op;        /* operation object for the method (borrowed) or NULL */
	json_t *body_param; /* the `in: body` parameter (borrowed) or NULL */
	json_t *params;    /* owned: path parameter name → value (strings) */
};

/* Schema validation flags. */
#define FC_SCHEMA_NO_TOP_REQUIRED 0x1u /* a partial update: skip `required` at the top */
#define FC_SCHEMA_NULL_OPTIONAL 0x2u   /* responses: null allowed for a non-required property */

/*
 * Loads and sanity-checks the contract: every `$ref` resolves and every
 * schema uses only keywords the validator understands (an unknown keyword
 * would otherwise be a silently skipped rule). Caller-embedded struct.
 */
int fc_contract_load(struct fc_contract *c, const char *path, char *err, size_t errlen);
void fc_contract_free(struct fc_contract *c);

/* True when the contract defines this method (lower-case key) on this template. */
bool fc_contract_has_op(const struct fc_contract *c, const char *method, const char *tmpl);

/*
 * Matches method + path (no query, no trailing slash). Returns 0 with
 * r->op set, -ENOENT when no template matches, -EPERM when the template
 * matches but the method is not defined for it (r->tmpl set).
 */
int fc_contract_route(const struct fc_contract *c, const char *method, const char *path,
		      struct fc_route *r);
void fc_route_clear(struct fc_route *r);

/* The operation's schema for a status code (e.g. "200"), resolved, or NULL. */
json_t *fc_contract_response_schema(const struct fc_contract *c, json_t *op, const char *status);

/* Follows `$ref` chains to the definition; NULL if a ref does not resolve. */
json_t *fc_schema_resolve(const struct fc_contract *c, json_t *schema);

/*
 * Validates value against schema. Returns 0, or -EINVAL with a serde-like
 * sentence in err ("unknown field `x`, expected one of ...", "missing field
 * `y`", "invalid type: ... at `a.b`").
 */
int fc_schema_validate(const struct fc_contract *c, json_t *schema, json_t *value,
		       unsigned flags, char *err, size_t errlen);

#endif
