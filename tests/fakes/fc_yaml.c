/*
 * fc_yaml.c — YAML document → jansson tree (see fc_yaml.h).
 *
 * Owns nothing past the call: the libyaml document is freed before return.
 * Rules: mapping keys must be scalars (they become object keys as text, so
 * the Swagger status code `200:` is the key "200"); a plain scalar is typed
 * the YAML 1.1 core way (true/false → boolean, null/~/empty → null, decimal
 * digits → integer, decimal with a point/exponent → real, anything else a
 * string); a quoted or block scalar is always a string. Nesting deeper than
 * FC_YAML_MAX_DEPTH is refused (aliases could otherwise loop forever).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "fc_yaml.h"

#define FC_YAML_MAX_DEPTH 64

static json_t *node_to_json(yaml_document_t *doc, yaml_node_t *node, int depth);

static bool is_integer_text(const char *s)
{
	if (*s == '-' || *s == '+')
		s++;
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

static bool is_real_text(const char *s)
{
	char *end = NULL;

	if (!*s || !strpbrk(s, ".eE") || strspn(s, "+-.0123456789eE") != strlen(s))
		return false;
	strtod(s, &end);
	return end && *end == '\0';
}

static json_t *plain_scalar(const char *s)
{
	if (strcmp(s, "true") == 0)
		return json_true();
	if (strcmp(s, "false") == 0)
		return json_false();
	if (!*s || strcmp(s, "null") == 0 || strcmp(s, "~") == 0)
		return json_null();
	if (is_integer_text(s))
		return json_integer(strtoll(s, NULL, 10));
	if (is_real_text(s))
		return json_real(strtod(s, NULL));
	return json_string(s);
}

static json_t *scalar_to_json(yaml_node_t *node)
{
	const char *s = (const char *)node->data.scalar.value;

	if (node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
		return plain_scalar(s);
	return json_string(s);
}

static json_t *sequence_to_json(yaml_document_t *doc, yaml_node_t *node, int depth)
{
	json_t *arr = json_array();

	for (yaml_node_item_t *it = node->data.sequence.items.start;
	     arr && it < node->data.sequence.items.top; it++) {
		json_t *v = node_to_json(doc, yaml_document_get_node(doc, *it), depth + 1);

		if (!v || json_array_append_new(arr, v) < 0) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

static json_t *mapping_to_json(yaml_document_t *doc, yaml_node_t *node, int depth)
{
	json_t *obj = json_object();

	for (yaml_node_pair_t *p = node->data.mapping.pairs.start;
	     obj && p < node->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(doc, p->key);
		json_t *v;

		if (!k || k->type != YAML_SCALAR_NODE)
			goto fail;
		v = node_to_json(doc, yaml_document_get_node(doc, p->value), depth + 1);
		if (!v || json_object_set_new(obj, (const char *)k->data.scalar.value, v) < 0)
			goto fail;
	}
	return obj;
fail:
	json_decref(obj);
	return NULL;
}

static json_t *node_to_json(yaml_document_t *doc, yaml_node_t *node, int depth)
{
	if (!node || depth > FC_YAML_MAX_DEPTH)
		return NULL;
	switch (node->type) {
	case YAML_SCALAR_NODE:
		return scalar_to_json(node);
	case YAML_SEQUENCE_NODE:
		return sequence_to_json(doc, node, depth);
	case YAML_MAPPING_NODE:
		return mapping_to_json(doc, node, depth);
	default:
		return NULL;
	}
}

static int parse_document(FILE *f, yaml_document_t *doc, char *err, size_t errlen)
{
	yaml_parser_t parser;
	int r = 0;

	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_file(&parser, f);
	if (!yaml_parser_load(&parser, doc)) {
		snprintf(err, errlen, "YAML error at line %zu: %s",
			 parser.problem_mark.line + 1,
			 parser.problem ? parser.problem : "unknown");
		r = -EINVAL;
	}
	yaml_parser_delete(&parser);
	return r;
}

int fc_yaml_load(const char *path, json_t **out, char *err, size_t errlen)
{
	yaml_document_t doc;
	FILE *f = fopen(path, "re");
	int r;

	if (!f) {
		r = -errno;
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(-r));
		return r;
	}
	r = parse_document(f, &doc, err, errlen);
	fclose(f);
	if (r < 0)
		return r;
	*out = node_to_json(&doc, yaml_document_get_root_node(&doc), 0);
	yaml_document_delete(&doc);
	if (!*out) {
		snprintf(err, errlen, "%s: empty document, non-scalar key or nesting too deep", path);
		return -EINVAL;
	}
	return 0;
}
