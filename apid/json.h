/*
 * json.h — apid's JSON output: the error envelope every failure uses,
 * {"error":{"code":"<machine_code>","message":"<sentence>"}}, and the VM
 * object. Results land in a struct http_response, which owns the body.
 */
#ifndef APID_JSON_H
#define APID_JSON_H

#include <jansson.h>

#include "http.h"
#include "registry.h"

/* Replaces r's body with the error envelope and sets r->status. */
void api_error(struct http_response *r, int status, const char *code,
	       const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Serialises j into r (takes the reference). Falls back to a 500 error
 * when serialisation fails (j NULL counts as failure). */
void api_json(struct http_response *r, int status, json_t *j);

/* The VM as the API shows it; NULL on allocation failure. */
json_t *vm_to_json(const struct ui_vm *vm);

#endif
