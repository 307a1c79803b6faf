/*
 * fc_contract.c — loading, checking and routing against the contract (see
 * fc_contract.h). Validation of values lives in fc_schema.c.
 *
 * Rules enforced here:
 *  - a path matches a template when it has the same number of segments and
 *    every literal segment is equal; `{name}` matches one non-empty segment.
 *    When several templates match, the one with fewest parameters wins.
 *  - the contract must be Swagger 2.0 with `paths` and `definitions`; every
 *    schema reachable from them may use only the keywords in known_keywords.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fc_contract.h"
#include "fc_yaml.h"

#define FC_MAX_SEGMENTS 16

static const char *const known_keywords[] = {
	"type", "properties", "required", "items", "$ref", "enum", "description",
	"default", "format", "minimum", "maximum", "readOnly", "example",
	"additionalProperties", "title", NULL,
};

static bool is_string(json_t *v, const char *s)
{
	return json_is_string(v) && strcmp(json_string_value(v), s) == 0;
}

static bool is_known_keyword(const char *k)
{
	for (const char *const *p = known_keywords; *p; p++)
		if (strcmp(*p, k) == 0)
			return true;
	return false;
}

json_t *fc_schema_resolve(const struct fc_contract *c, json_t *schema)
{
	for (int hops = 0; schema && hops < 16; hops++) {
		const char *ref = json_string_value(json_object_get(schema, "$ref"));

		if (!ref)
			return schema;
		if (strncmp(ref, "#/definitions/", 14) != 0)
			return NULL;
		schema = json_object_get(c->definitions, ref + 14);
	}
	return NULL;
}

static int check_schema(const struct fc_contract *c, json_t *schema, const char *where,
			int depth, char *err, size_t errlen);

static int check_children(const struct fc_contract *c, json_t *schema, const char *where,
			  int depth, char *err, size_t errlen)
{
	json_t *props = json_object_get(schema, "properties"), *v, *add;
	const char *k;
	char sub[512];

	json_object_foreach(props, k, v) {
		snprintf(sub, sizeof(sub), "%s.%s", where, k);
		if (check_schema(c, v, sub, depth + 1, err, errlen) < 0)
			return -EINVAL;
	}
	if (json_object_get(schema, "items")) {
		snprintf(sub, sizeof(sub), "%s[]", where);
		if (check_schema(c, json_object_get(schema, "items"), sub, depth + 1, err, errlen) < 0)
			return -EINVAL;
	}
	add = json_object_get(schema, "additionalProperties");
	if (add && !json_is_boolean(add)) {
		snprintf(err, errlen, "%s: additionalProperties with a schema is not supported", where);
		return -EINVAL;
	}
	return 0;
}

/* Every keyword known, every $ref resolvable; refs are checked where defined. */
static int check_schema(const struct fc_contract *c, json_t *schema, const char *where,
			int depth, char *err, size_t errlen)
{
	const char *k;
	json_t *v;

	if (!json_is_object(schema) || depth > 32) {
		snprintf(err, errlen, "%s: schema is not a mapping", where);
		return -EINVAL;
	}
	json_object_foreach(schema, k, v) {
		if (!is_known_keyword(k)) {
			snprintf(err, errlen, "%s: unsupported schema keyword '%s'", where, k);
			return -EINVAL;
		}
	}
	if (json_object_get(schema, "$ref") && !fc_schema_resolve(c, schema)) {
		snprintf(err, errlen, "%s: unresolvable $ref", where);
		return -EINVAL;
	}
	return check_children(c, schema, where, depth, err, errlen);
}

static int check_definitions(const struct fc_contract *c, char *err, size_t errlen)
{
	const char *name;
	json_t *schema;
	char where[256];

	json_object_foreach(c->definitions, name, schema) {
		snprintf(where, sizeof(where), "definitions.%s", name);
		if (check_schema(c, schema, where, 0, err, errlen) < 0)
			return -EINVAL;
	}
	return 0;
}

static int check_operation(const struct fc_contract *c, const char *tmpl, const char *m,
			   json_t *op, char *err, size_t errlen)
{
	json_t *p;
	size_t i;
	char where[512];

	json_array_foreach(json_object_get(op, "parameters"), i, p) {
		const char *in = json_string_value(json_object_get(p, "in"));

		snprintf(where, sizeof(where), "paths.%s.%s.parameters[%zu]", tmpl, m, i);
		if (!in) {
			snprintf(err, errlen, "%s: parameter without 'in'", where);
			return -EINVAL;
		}
		if (strcmp(in, "body") == 0 &&
		    check_schema(c, json_object_get(p, "schema"), where, 0, err, errlen) < 0)
			return -EINVAL;
		if (strcmp(in, "body") != 0 && strcmp(in, "path") != 0) {
			snprintf(err, errlen, "%s: parameters in '%s' are not supported", where, in);
			return -EINVAL;
		}
	}
	return 0;
}

static int check_paths(const struct fc_contract *c, char *err, size_t errlen)
{
	const char *tmpl, *m;
	json_t *item, *op;

	json_object_foreach(c->paths, tmpl, item) {
		if (tmpl[0] != '/') {
			snprintf(err, errlen, "paths: '%s' does not start with '/'", tmpl);
			return -EINVAL;
		}
		json_object_foreach(item, m, op) {
			if (check_operation(c, tmpl, m, op, err, errlen) < 0)
				return -EINVAL;
		}
	}
	return 0;
}

int fc_contract_load(struct fc_contract *c, const char *path, char *err, size_t errlen)
{
	int r;

	memset(c, 0, sizeof(*c));
	r = fc_yaml_load(path, &c->root, err, errlen);
	if (r < 0)
		return r;
	c->paths = json_object_get(c->root, "paths");
	c->definitions = json_object_get(c->root, "definitions");
	c->version = json_string_value(json_object_get(json_object_get(c->root, "info"), "version"));
	if (!json_is_object(c->paths) || !json_is_object(c->definitions) || !c->version ||
	    !is_string(json_object_get(c->root, "swagger"), "2.0")) {
		snprintf(err, errlen, "%s: not a Swagger 2.0 document with paths and definitions", path);
		r = -EINVAL;
	}
	if (r == 0)
		r = check_definitions(c, err, errlen);
	if (r == 0)
		r = check_paths(c, err, errlen);
	if (r < 0)
		fc_contract_free(c);
	return r;
}

void fc_contract_free(struct fc_contract *c)
{
	if (!c)
		return;
	json_decref(c->root);
	memset(c, 0, sizeof(*c));
}

/* Splits "/a/b" into segments in buf (modified). Returns the count or -1. */
static int split_path(char *buf, char **seg)
{
	int n = 0;

	for (char *s = strtok(buf, "/"); s; s = strtok(NULL, "/")) {
		if (n == FC_MAX_SEGMENTS)
			return -1;
		seg[n++] = s;
	}
	return n;
}

static bool has_empty_segment(const char *path)
{
	return strstr(path, "//") != NULL;
}

/* Returns the number of parameters matched, or -1; fills params. */
static int match_template(const char *tmpl, char **seg, int nseg, json_t *params)
{
	char buf[512], *tseg[FC_MAX_SEGMENTS];
	int nt, nparams = 0;

	snprintf(buf, sizeof(buf), "%s", tmpl);
	nt = split_path(buf, tseg);
	if (nt != nseg)
		return -1;
	for (int i = 0; i < nt; i++) {
		size_t len = strlen(tseg[i]);

		if (tseg[i][0] == '{' && tseg[i][len - 1] == '}') {
			tseg[i][len - 1] = '\0';
			json_object_set_new(params, tseg[i] + 1, json_string(seg[i]));
			nparams++;
		} else if (strcmp(tseg[i], seg[i]) != 0) {
			return -1;
		}
	}
	return nparams;
}

static json_t *body_parameter(json_t *op)
{
	json_t *p;
	size_t i;

	json_array_foreach(json_object_get(op, "parameters"), i, p)
		if (is_string(json_object_get(p, "in"), "body"))
			return p;
	return NULL;
}

static void lower(const char *in, char *out, size_t n)
{
	size_t i = 0;

	for (; in[i] && i + 1 < n; i++)
		out[i] = (char)(in[i] >= 'A' && in[i] <= 'Z' ? in[i] + 32 : in[i]);
	out[i] = '\0';
}

bool fc_contract_has_op(const struct fc_contract *c, const char *method, const char *tmpl)
{
	char m[16];

	lower(method, m, sizeof(m));
	return json_object_get(json_object_get(c->paths, tmpl), m) != NULL;
}

static int best_template(const struct fc_contract *c, char **seg, int nseg, struct fc_route *r)
{
	const char *tmpl;
	json_t *item;
	int best = -1;

	json_object_foreach(c->paths, tmpl, item) {
		json_t *params = json_object();
		int n = match_template(tmpl, seg, nseg, params);

		if (n >= 0 && (best < 0 || n < best)) {
			best = n;
			r->tmpl = tmpl;
			json_decref(r->params);
			r->params = params;
		} else {
			json_decref(params);
		}
	}
	return best < 0 ? -ENOENT : 0;
}

int fc_contract_route(const struct fc_contract *c, const char *method, const char *path,
		      struct fc_route *r)
{
	char buf[1024], m[16], *seg[FC_MAX_SEGMENTS];
	int nseg;

	memset(r, 0, sizeof(*r));
	if (path[0] != '/' || has_empty_segment(path) || strlen(path) >= sizeof(buf))
		return -ENOENT;
	snprintf(buf, sizeof(buf), "%s", path);
	nseg = split_path(buf, seg);
	if (nseg < 0 || best_template(c, seg, nseg, r) < 0)
		return -ENOENT;
	lower(method, m, sizeof(m));
	r->op = json_object_get(json_object_get(c->paths, r->tmpl), m);
	if (!r->op)
		return -EPERM;
	r->body_param = body_parameter(r->op);
	return 0;
}

void fc_route_clear(struct fc_route *r)
{
	if (!r)
		return;
	json_decref(r->params);
	memset(r, 0, sizeof(*r));
}

json_t *fc_contract_response_schema(const struct fc_contract *c, json_t *op, const char *status)
{
	json_t *resp = json_object_get(json_object_get(op, "responses"), status);

	if (!resp || !json_object_get(resp, "schema"))
		return NULL;
	return fc_schema_resolve(c, json_object_get(resp, "schema"));
}
