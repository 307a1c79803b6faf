/*
 * vec.h — netd's one growable array, and the set of interface names built
 * on it (the deletion queue, the taps a kick asked for).
 *
 * A vec holds elements of one size, contiguous, in insertion order; it
 * grows by doubling. A vec of names holds char[UI_IPAM_TAP_LEN] elements,
 * each name at most once.
 *
 * Ownership: struct vec is caller-embedded, zero-initialised (or VEC_INIT)
 * and owns its buffer; vec_free releases it (a zeroed vec is fine).
 */
#ifndef NETD_VEC_H
#define NETD_VEC_H

#include <stdbool.h>
#include <stddef.h>

#include "ipam.h"

struct vec {
	void *v;
	size_t n, cap;
	size_t size;           /* bytes per element */
};

#define VEC_INIT(type) { NULL, 0, 0, sizeof(type) }

/* Appends a copy of elem; -ENOMEM. */
int vec_push(struct vec *v, const void *elem);
/* Element i (i < n). */
void *vec_at(const struct vec *v, size_t i);
/* Removes element i, keeping the order of the others. */
void vec_remove(struct vec *v, size_t i);
void vec_free(struct vec *v);

/* ---- names ---------------------------------------------------------------- */

#define NAMES_INIT VEC_INIT(char[UI_IPAM_TAP_LEN])

const char *names_at(const struct vec *names, size_t i);
bool names_has(const struct vec *names, const char *name);
/* Appends name unless it is there already; -ENAMETOOLONG, -ENOMEM. */
int names_add(struct vec *names, const char *name);

#endif
