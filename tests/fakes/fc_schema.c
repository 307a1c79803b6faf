/*
 * fc_schema.c — validates a JSON value against a contract schema, the way
 * Firecracker's serde deserialisation (deny_unknown_fields) would reject it.
 *
 * Rules, applied recursively (nested objects, `$ref`s, array items):
 *  - `type`: object (a JSON object), array, string, boolean, integer (a
 *    JSON integer: 2.0 is not an integer), number; null is never accepted
 *    (the driver must omit a field, not send null);
 *  - `enum`: the value must equal one of the listed values;
 *  - `minimum` / `maximum` on integers and numbers;
 *  - objects: every key must be in `properties` unless
 *    `additionalProperties: true`; every `required` name must be present
 *    (unless FC_SCHEMA_NO_TOP_REQUIRED, for the top level only);
 *  - FC_SCHEMA_NULL_OPTIONAL (used only to self-check the fake's own
 *    responses) lets a non-required property be null, as Firecracker
 *    serialises an absent Option.
 * The first violation wins; err names it and where (`a.b[2].c`).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fc_contract.h"

struct vctx {
	const struct fc_contract *c;
	char *err;
	size_t errlen;
};

static int validate(struct vctx *x, json_t *schema, json_t *v, const char *loc,
		    unsigned flags, int depth);

static void describe(json_t *v, char *out, size_t n)
{
	char *dump;

	switch (json_typeof(v)) {
	case JSON_OBJECT: snprintf(out, n, "map"); return;
	case JSON_ARRAY: snprintf(out, n, "sequence"); return;
	case JSON_NULL: snprintf(out, n, "null"); return;
	case JSON_TRUE: case JSON_FALSE:
		snprintf(out, n, "boolean `%s`", json_is_true(v) ? "true" : "false");
		return;
	default:
		break;
	}
	dump = json_dumps(v, JSON_ENCODE_ANY);
	snprintf(out, n, "%s %s", json_is_string(v) ? "string" :
		 json_is_integer(v) ? "integer" : "floating point", dump ? dump : "?");
	free(dump);
}

static int fail(struct vctx *x, const char *loc, const char *fmt, const char *a, const char *b)
{
	char msg[768];

	snprintf(msg, sizeof(msg), fmt, a, b);
	if (loc[0])
		snprintf(x->err, x->errlen, "%s at `%s`", msg, loc);
	else
		snprintf(x->err, x->errlen, "%s", msg);
	return -EINVAL;
}

static void sub_loc(char *out, size_t n, const char *loc, const char *key)
{
	snprintf(out, n, "%s%s%s", loc, loc[0] ? "." : "", key);
}

static void key_list(json_t *props, char *out, size_t n)
{
	const char *k;
	json_t *v;
	size_t used = 0;

	out[0] = '\0';
	json_object_foreach(props, k, v) {
		int w = snprintf(out + used, n - used, "%s`%s`", used ? ", " : "", k);

		if (w < 0 || (size_t)w >= n - used)
			break;
		used += (size_t)w;
	}
}

static int check_unknown(struct vctx *x, json_t *schema, json_t *v, const char *loc)
{
	json_t *props = json_object_get(schema, "properties"), *val;
	const char *k;
	char expected[512];

	if (json_is_true(json_object_get(schema, "additionalProperties")))
		return 0;
	json_object_foreach(v, k, val) {
		if (json_object_get(props, k))
			continue;
		key_list(props, expected, sizeof(expected));
		if (!expected[0])
			return fail(x, loc, "unknown field `%s`, there are no fields%s", k, "");
		return fail(x, loc, "unknown field `%s`, expected one of %s", k, expected);
	}
	return 0;
}

static int check_required(struct vctx *x, json_t *schema, json_t *v, const char *loc)
{
	json_t *name;
	size_t i;

	json_array_foreach(json_object_get(schema, "required"), i, name) {
		const char *n = json_string_value(name);

		if (n && !json_object_get(v, n))
			return fail(x, loc, "missing field `%s`%s", n, "");
	}
	return 0;
}

static bool is_required(json_t *schema, const char *k)
{
	json_t *name;
	size_t i;

	json_array_foreach(json_object_get(schema, "required"), i, name)
		if (json_is_string(name) && strcmp(json_string_value(name), k) == 0)
			return true;
	return false;
}

static int validate_object(struct vctx *x, json_t *schema, json_t *v, const char *loc,
			   unsigned flags, int depth)
{
	json_t *props = json_object_get(schema, "properties"), *val;
	unsigned child = flags & ~FC_SCHEMA_NO_TOP_REQUIRED;
	const char *k;
	char sub[512];

	if (check_unknown(x, schema, v, loc) < 0)
		return -EINVAL;
	json_object_foreach(v, k, val) {
		json_t *ps = json_object_get(props, k);

		if (json_is_null(val) && (flags & FC_SCHEMA_NULL_OPTIONAL) && !is_required(schema, k))
			continue;
		sub_loc(sub, sizeof(sub), loc, k);
		if (ps && validate(x, ps, val, sub, child, depth + 1) < 0)
			return -EINVAL;
	}
	if (flags & FC_SCHEMA_NO_TOP_REQUIRED)
		return 0;
	return check_required(x, schema, v, loc);
}

static int validate_array(struct vctx *x, json_t *schema, json_t *v, const char *loc,
			  unsigned flags, int depth)
{
	json_t *items = json_object_get(schema, "items"), *el;
	size_t i;
	char sub[512];

	if (!items)
		return 0;
	json_array_foreach(v, i, el) {
		snprintf(sub, sizeof(sub), "%s[%zu]", loc, i);
		if (validate(x, items, el, sub, flags & ~FC_SCHEMA_NO_TOP_REQUIRED, depth + 1) < 0)
			return -EINVAL;
	}
	return 0;
}

static bool type_matches(const char *type, json_t *v)
{
	if (strcmp(type, "object") == 0)
		return json_is_object(v);
	if (strcmp(type, "array") == 0)
		return json_is_array(v);
	if (strcmp(type, "string") == 0)
		return json_is_string(v);
	if (strcmp(type, "boolean") == 0)
		return json_is_boolean(v);
	if (strcmp(type, "integer") == 0)
		return json_is_integer(v);
	if (strcmp(type, "number") == 0)
		return json_is_number(v);
	return false;
}

static int check_enum(struct vctx *x, json_t *schema, json_t *v, const char *loc)
{
	json_t *allowed = json_object_get(schema, "enum"), *e;
	size_t i, used = 0;
	char list[512] = "", got[256];

	if (!allowed)
		return 0;
	json_array_foreach(allowed, i, e) {
		if (json_equal(e, v))
			return 0;
		if (json_is_string(e) && used < sizeof(list))
			used += (size_t)snprintf(list + used, sizeof(list) - used, "%s`%s`",
						 used ? ", " : "", json_string_value(e));
	}
	if (json_is_string(v))
		return fail(x, loc, "unknown variant `%s`, expected one of %s",
			    json_string_value(v), list);
	describe(v, got, sizeof(got));
	return fail(x, loc, "invalid value: %s, expected one of %s", got, list);
}

static int check_range(struct vctx *x, json_t *schema, json_t *v, const char *loc)
{
	json_t *min = json_object_get(schema, "minimum");
	json_t *max = json_object_get(schema, "maximum");
	double d = json_number_value(v);
	char got[256], lim[64];

	if (!json_is_number(v))
		return 0;
	describe(v, got, sizeof(got));
	if (json_is_number(min) && d < json_number_value(min)) {
		snprintf(lim, sizeof(lim), "a value >= %g", json_number_value(min));
		return fail(x, loc, "invalid value: %s, expected %s", got, lim);
	}
	if (json_is_number(max) && d > json_number_value(max)) {
		snprintf(lim, sizeof(lim), "a value <= %g", json_number_value(max));
		return fail(x, loc, "invalid value: %s, expected %s", got, lim);
	}
	return 0;
}

static const char *implied_type(json_t *schema)
{
	const char *t = json_string_value(json_object_get(schema, "type"));

	if (t)
		return t;
	if (json_object_get(schema, "properties"))
		return "object";
	return NULL;
}

static int validate(struct vctx *x, json_t *schema, json_t *v, const char *loc,
		    unsigned flags, int depth)
{
	const char *type;
	char got[256];

	schema = fc_schema_resolve(x->c, schema);
	if (!schema || depth > 32)
		return fail(x, loc, "contract schema unresolvable%s%s", "", "");
	type = implied_type(schema);
	if (type && !type_matches(type, v)) {
		describe(v, got, sizeof(got));
		return fail(x, loc, "invalid type: %s, expected %s", got, type);
	}
	if (!type && json_is_null(v))
		return fail(x, loc, "invalid type: null, expected a value%s%s", "", "");
	if (check_enum(x, schema, v, loc) < 0 || check_range(x, schema, v, loc) < 0)
		return -EINVAL;
	if (json_is_object(v) && type)
		return validate_object(x, schema, v, loc, flags, depth);
	if (json_is_array(v))
		return validate_array(x, schema, v, loc, flags, depth);
	return 0;
}

int fc_schema_validate(const struct fc_contract *c, json_t *schema, json_t *value,
		       unsigned flags, char *err, size_t errlen)
{
	struct vctx x = { c, err, errlen };

	return validate(&x, schema, value, "", flags, 0);
}
