/*
 * table.c — uictl's output helpers: column-aligned tables (widths from the
 * widest cell), "key value" lines, JSON members as text.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uictl.h"

#define KEY_WIDTH 17 /* "lease.updated_at" and a space */

void table_init(struct table *t, const char *const *head)
{
	memset(t, 0, sizeof(*t));
	t->head = head;
	while (head[t->ncols])
		t->ncols++;
}

/* Appends one row of ncols values; "" is shown as "-". */
int table_add(struct table *t, const char *const *vals)
{
	if (t->nrows == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 16;
		void *p = realloc(t->rows, cap * sizeof(*t->rows));

		if (!p)
			return -ENOMEM;
		t->rows = p;
		t->cap = cap;
	}
	for (size_t c = 0; c < t->ncols; c++)
		snprintf(t->rows[t->nrows][c], CELL, "%s", *vals[c] ? vals[c] : "-");
	t->nrows++;
	return 0;
}

static void print_row(const struct table *t, const size_t *width, const char *const *cells)
{
	for (size_t c = 0; c < t->ncols; c++) {
		if (c + 1 < t->ncols)
			printf("%-*s  ", (int)width[c], cells[c]);
		else
			printf("%s\n", cells[c]);
	}
}

void table_print(const struct table *t)
{
	size_t width[TABLE_COLS];
	const char *cells[TABLE_COLS];

	for (size_t c = 0; c < t->ncols; c++) {
		width[c] = strlen(t->head[c]);
		for (size_t r = 0; r < t->nrows; r++)
			if (strlen(t->rows[r][c]) > width[c])
				width[c] = strlen(t->rows[r][c]);
	}
	print_row(t, width, t->head);
	for (size_t r = 0; r < t->nrows; r++) {
		for (size_t c = 0; c < t->ncols; c++)
			cells[c] = t->rows[r][c];
		print_row(t, width, cells);
	}
}

void table_free(struct table *t)
{
	free(t->rows);
	t->rows = NULL;
}

/* "2026-11-29T14:50:49.123Z" → "2026-11-29T14:50:49Z" (tables only). */
void short_time(const char *s, char *buf, size_t len)
{
	if (strlen(s) == 24 && s[19] == '.' && s[23] == 'Z')
		snprintf(buf, len, "%.19sZ", s);
	else
		snprintf(buf, len, "%s", s);
}

void kv(const char *key, const char *val)
{
	printf("%-*s%s\n", KEY_WIDTH, key, *val ? val : "-");
}

const char *json_text(json_t *obj, const char *key, char *buf, size_t len)
{
	json_t *v = json_object_get(obj, key);

	if (json_is_string(v))
		snprintf(buf, len, "%s", json_string_value(v));
	else if (json_is_integer(v))
		snprintf(buf, len, "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		snprintf(buf, len, "%.1f", json_real_value(v));
	else if (json_is_boolean(v))
		snprintf(buf, len, "%s", json_is_true(v) ? "true" : "false");
	else
		snprintf(buf, len, "%s", "");
	return buf;
}

void print_json(json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);

	if (s)
		printf("%s\n", s);
	free(s);
}
