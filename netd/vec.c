/*
 * vec.c — the growable array and the name set (see vec.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vec.h"

int vec_push(struct vec *v, const void *elem)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 16;
		void *p = realloc(v->v, cap * v->size);

		if (!p)
			return -ENOMEM;
		v->v = p;
		v->cap = cap;
	}
	memcpy((char *)v->v + v->n * v->size, elem, v->size);
	v->n++;
	return 0;
}

void *vec_at(const struct vec *v, size_t i)
{
	return (char *)v->v + i * v->size;
}

void vec_remove(struct vec *v, size_t i)
{
	char *at = vec_at(v, i);

	memmove(at, at + v->size, (v->n - i - 1) * v->size);
	v->n--;
}

void vec_free(struct vec *v)
{
	free(v->v);
	v->v = NULL;
	v->n = v->cap = 0;
}

const char *names_at(const struct vec *names, size_t i)
{
	return vec_at(names, i);
}

bool names_has(const struct vec *names, const char *name)
{
	for (size_t i = 0; i < names->n; i++)
		if (!strcmp(names_at(names, i), name))
			return true;
	return false;
}

int names_add(struct vec *names, const char *name)
{
	char copy[UI_IPAM_TAP_LEN] = { 0 };
	size_t len = strlen(name);

	if (len >= sizeof(copy))
		return -ENAMETOOLONG;
	if (names_has(names, name))
		return 0;
	memcpy(copy, name, len);
	return vec_push(names, copy);
}
