/*
 * access.h — uigniterd's part of "who may do what" (docs/ARCHITECTURE.md):
 * before anything else runs, the instance's directories and registry files
 * get their modes and group (perms.h), and the API token file exists and
 * is private (token.h).
 */
#ifndef UI_SUPERVISOR_ACCESS_H
#define UI_SUPERVISOR_ACCESS_H

#include "config.h"

/* state_dir, run_dir, their vms/ and the registry (+ -wal, -shm): made
 * when missing, tightened (and logged) when an older version left them
 * open. 0 or negative errno (logged). */
int ui_access_prepare(const struct ui_config *cfg);

/* The token file (api.token_file): made when missing, refused when others
 * could read it or it holds no token. Nothing to do without TCP or with
 * api.token_file "" (a warning: TCP on loopback is then open to every
 * local user). 0 or negative errno (logged with the file and the fix). */
int ui_access_token(const struct ui_config *cfg);

#endif
