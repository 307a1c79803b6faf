/*
 * perms.h — who may read what (docs/ARCHITECTURE.md, "Who may do what"):
 * the modes of the instance's directories and files, from api.group.
 *
 * Without api.group everything is root's alone (dirs 0700, files 0600);
 * with it, the admin group may read (dirs 0750, files 0640, group
 * api.group), never write. The processes run with ui_config_umask(), so
 * what they create follows; what an older version left (0755, 0644) is
 * tightened at start by uigniterd, which logs each change.
 */
#ifndef UI_PERMS_H
#define UI_PERMS_H

#include <sys/types.h>

#include "config.h"

mode_t ui_perms_dir_mode(const struct ui_config *cfg);  /* 0750 or 0700 */
mode_t ui_perms_file_mode(const struct ui_config *cfg); /* 0640 or 0600 */

/*
 * Gives path the mode and group (owner kept) unless it has them: 1 when
 * it changed them (the mode it had in *old_mode), 0 when they were right,
 * -ENOENT when it does not exist, else negative errno. A symlink is not
 * followed (-ELOOP).
 */
int ui_perms_apply(const char *path, mode_t mode, gid_t gid, mode_t *old_mode);

#endif
