/*
 * metrics_text.h — GET /metrics: the Prometheus text exposition (format
 * 0.0.4) of what the daemons publish in shm (shared/metrics.h: counters
 * and histograms, the pool table, daemon status, ring depths) and of the
 * VMs counted by state (the one registry query of a scrape).
 */
#ifndef APID_METRICS_TEXT_H
#define APID_METRICS_TEXT_H

#include "http.h"

struct apid_server;

/* 200 text/plain; version=0.0.4, or a 500 error. */
void metrics_answer(struct apid_server *s, struct http_response *r);

#endif
