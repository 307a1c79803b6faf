/*
 * fc_yaml.h — reads a YAML file (the Firecracker Swagger contract) into a
 * jansson value, so the rest of the fake works on one JSON tree.
 */
#ifndef FC_YAML_H
#define FC_YAML_H

#include <stddef.h>
#include <jansson.h>

/*
 * Loads the first document of the YAML file at path. On success *out is a
 * new reference owned by the caller. On failure returns a negative errno
 * and writes a sentence to err.
 */
int fc_yaml_load(const char *path, json_t **out, char *err, size_t errlen);

#endif
