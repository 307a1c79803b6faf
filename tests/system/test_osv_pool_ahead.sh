#!/usr/bin/env bash
# test_osv_pool.sh with pool.boot: ahead — the OSv slot boots until its app
# accepts, is paused, and a run continues it (skips 77 without an OSv image).
OSV_POOL_BOOT=ahead exec bash "$(dirname "$0")/test_osv_pool.sh"
