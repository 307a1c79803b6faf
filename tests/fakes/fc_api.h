/*
 * fc_api.h — the request pipeline: every HTTP request is routed and
 * validated against the contract, then handed to the fake VMM; the answer
 * and the request are written to the human log and the call log.
 */
#ifndef FC_API_H
#define FC_API_H

#include "fc_contract.h"
#include "fc_http.h"
#include "fc_vmm.h"

struct fc_api {
	const struct fc_contract *contract; /* borrowed */
	struct fc_vmm *vmm;                 /* borrowed */
};

/* An fc_handler_fn; ctx is a struct fc_api. */
void fc_api_handle(void *ctx, const struct fc_request *req, struct fc_reply *rep);

#endif
