/*
 * fc_api.c — see fc_api.h. The checks, in Firecracker's order (the API
 * thread parses before the VMM thread acts), first failure answers 400 with
 * {"fault_message": ...}:
 *
 *  1. path + method must be an operation of the contract, else
 *     "Invalid request method and/or path: <METHOD> <path>." (Firecracker
 *     answers 400, not 404 or 405, for both);
 *  2. each path parameter (an id) must be non-empty and only alphanumerics
 *     or '_' ("API Resource IDs can only contain alphanumeric characters
 *     and underscores.");
 *  3. GET takes no body; PUT needs one ("Empty PUT request."); PATCH needs
 *     one when the contract marks its body required; a body on an
 *     operation without a body parameter is refused;
 *  4. the body must be JSON (duplicate keys refused) and valid against the
 *     body parameter's schema (fc_schema.c): "An error occurred when
 *     deserializing the json body of a request: <why>.";
 *  5. a path parameter that is also a property of the body (drive_id,
 *     iface_id, id) must equal it: "The id from the path does not match
 *     the id from the body!";
 *  6. the fake VMM applies the phase rules and the call (fc_vmm.c).
 * Each 200 answer is itself checked against the operation's response
 * schema; a mismatch is a bug in the fake and answers 500.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fc_api.h"
#include "fc_calllog.h"
#include "fc_log.h"

#define DESER "An error occurred when deserializing the json body of a request: "

/* The path without query string and trailing slash, into out. */
static void normalize_path(const char *url, char *out, size_t n)
{
	size_t len;

	snprintf(out, n, "%s", url);
	out[strcspn(out, "?#")] = '\0';
	len = strlen(out);
	if (len > 1 && out[len - 1] == '/')
		out[len - 1] = '\0';
}

static int check_ids(json_t *params, struct fc_reply *rep)
{
	const char *k;
	json_t *v;

	json_object_foreach(params, k, v) {
		const char *id = json_string_value(v);

		if (!id[0]) {
			fc_reply_fault(rep, 400, "The ID cannot be empty.");
			return -EINVAL;
		}
		for (const char *p = id; *p; p++) {
			if (!isalnum((unsigned char)*p) && *p != '_') {
				fc_reply_fault(rep, 400, "API Resource IDs can only contain "
					       "alphanumeric characters and underscores.");
				return -EINVAL;
			}
		}
	}
	return 0;
}

static int check_body_presence(const struct fc_request *req, const struct fc_route *r,
			       struct fc_reply *rep)
{
	bool has = req->body != NULL;
	bool required = json_is_true(json_object_get(r->body_param, "required"));

	if (has && strcmp(req->method, "GET") == 0)
		fc_reply_fault(rep, 400, "GET request cannot have a body.");
	else if (!has && strcmp(req->method, "PUT") == 0)
		fc_reply_fault(rep, 400, "Empty PUT request.");
	else if (!has && strcmp(req->method, "PATCH") == 0 && required)
		fc_reply_fault(rep, 400, "Empty PATCH request.");
	else if (has && !r->body_param)
		fc_reply_fault(rep, 400, "fake firecracker: %s %s takes no body in the contract.",
			       req->method, r->tmpl);
	else
		return 0;
	return -EINVAL;
}

/* Parses and validates the body; *out gets the parsed value even if invalid. */
static int check_body(const struct fc_api *api, const struct fc_request *req,
		      const struct fc_route *r, json_t **out, struct fc_reply *rep)
{
	json_error_t jerr;
	char why[1024];
	unsigned flags = 0;

	*out = json_loadb(req->body, req->body_len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES,
			  &jerr);
	if (!*out) {
		fc_reply_fault(rep, 400, DESER "%s at line %d column %d.", jerr.text, jerr.line,
			       jerr.column);
		return -EINVAL;
	}
	if (fc_vmm_is_partial(req->method, r->tmpl))
		flags |= FC_SCHEMA_NO_TOP_REQUIRED;
	if (fc_schema_validate(api->contract, json_object_get(r->body_param, "schema"), *out,
			       flags, why, sizeof(why)) < 0) {
		fc_reply_fault(rep, 400, DESER "%s.", why);
		return -EINVAL;
	}
	return 0;
}

static int check_ids_match(json_t *params, json_t *body, struct fc_reply *rep)
{
	const char *k;
	json_t *v;

	json_object_foreach(params, k, v) {
		json_t *b = json_object_get(body, k);

		if (b && !json_equal(b, v)) {
			fc_reply_fault(rep, 400, "The id from the path does not match the id "
				       "from the body!");
			return -EINVAL;
		}
	}
	return 0;
}

/* A bug in the fake must not pass as Firecracker's answer. */
static void self_check(const struct fc_api *api, const struct fc_route *r, struct fc_reply *rep)
{
	json_t *schema = fc_contract_response_schema(api->contract, r->op, "200");
	char why[1024];

	if (rep->status != 200 || !schema)
		return;
	if (fc_schema_validate(api->contract, schema, rep->body, FC_SCHEMA_NULL_OPTIONAL, why,
			       sizeof(why)) < 0) {
		fc_error("fake bug: the answer to %s does not match the contract: %s", r->tmpl, why);
		fc_reply_fault(rep, 500, "fake firecracker bug: response does not match the "
			       "contract: %s", why);
	}
}

static void route_and_run(const struct fc_api *api, const struct fc_request *req,
			  const char *path, json_t **body, struct fc_reply *rep)
{
	struct fc_route r;
	struct fc_call call;

	if (fc_contract_route(api->contract, req->method, path, &r) < 0) {
		fc_reply_fault(rep, 400, "Invalid request method and/or path: %s %s.",
			       req->method, path);
		goto out;
	}
	if (check_ids(r.params, rep) < 0 || check_body_presence(req, &r, rep) < 0)
		goto out;
	if (req->body && check_body(api, req, &r, body, rep) < 0)
		goto out;
	if (check_ids_match(r.params, *body, rep) < 0)
		goto out;
	call = (struct fc_call){ req->method, r.tmpl, r.params, *body };
	fc_vmm_dispatch(api->vmm, &call, rep);
	self_check(api, &r, rep);
out:
	fc_route_clear(&r);
}

static const char *fault_of(const struct fc_reply *rep)
{
	return json_string_value(json_object_get(rep->body, "fault_message"));
}

static void log_outcome(const struct fc_reply *rep)
{
	if (rep->status >= 400)
		fc_error("Received Error. Status code: %d. Message: %s", rep->status,
			 fault_of(rep) ? fault_of(rep) : "");
	else
		fc_info("The request was executed successfully. Status code: %d.", rep->status);
}

void fc_api_handle(void *ctx, const struct fc_request *req, struct fc_reply *rep)
{
	const struct fc_api *api = ctx;
	char path[2048];
	json_t *body = NULL;

	normalize_path(req->url, path, sizeof(path));
	fc_info("The API server received a %s request on \"%s\"%s%.512s%s", req->method, path,
		req->body ? " with body \"" : ".", req->body ? req->body : "",
		req->body ? "\"." : "");
	if (req->http_status)
		fc_reply_fault(rep, req->http_status, "%s", req->http_fault);
	else
		route_and_run(api, req, path, &body, rep);
	log_outcome(rep);
	fc_calllog_request(req->method, req->url, body, body ? NULL : req->body, rep->status,
			   fault_of(rep));
	json_decref(body);
}
