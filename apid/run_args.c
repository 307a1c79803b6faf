/*
 * run_args.c — the run body's "cmd" (the app's argv, a list of strings)
 * and "boot_args" (extra kernel arguments, a string): their types here,
 * their rules in shared/cmdargs.h, then what the image allows
 * (allow_cmd; the rules of its kind). Pure, like routes.c.
 */
#include <errno.h>
#include <string.h>

#include "cmdargs.h"
#include "json.h"
#include "ring.h"
#include "routes.h"

_Static_assert(sizeof(((struct run_params *)0)->cmd.buf) ==
	       sizeof(((struct ui_msg *)0)->cmd), "cmd travels whole in a RUN");
_Static_assert(sizeof(((struct run_params *)0)->boot_args) ==
	       sizeof(((struct ui_msg *)0)->boot_args), "boot_args travels whole in a RUN");

int route_run_cmd(json_t *v, struct run_params *out, struct http_response *resp)
{
	char why[160];
	size_t i;
	json_t *item;

	if (!json_is_array(v)) {
		api_error(resp, 400, "invalid_argument", "cmd must be a list of strings");
		return -EINVAL;
	}
	memset(&out->cmd, 0, sizeof(out->cmd));
	json_array_foreach(v, i, item) {
		if (!json_is_string(item)) {
			api_error(resp, 400, "invalid_argument", "cmd[%zu] must be a string", i);
			return -EINVAL;
		}
		if (ui_cmd_append(&out->cmd, json_string_value(item), json_string_length(item),
				  why, sizeof(why)) < 0) {
			api_error(resp, 400, "invalid_argument", "%s (cmd[%zu])", why, i);
			return -EINVAL;
		}
	}
	if (!out->cmd.argc) {
		api_error(resp, 400, "invalid_argument", "cmd must not be empty");
		return -EINVAL;
	}
	out->cmd_set = true;
	return 0;
}

int route_run_boot_args(json_t *v, struct run_params *out, struct http_response *resp)
{
	size_t n = json_string_length(v);

	if (!json_is_string(v)) {
		api_error(resp, 400, "invalid_argument", "boot_args must be a string");
		return -EINVAL;
	}
	if (n >= sizeof(out->boot_args) || memchr(json_string_value(v), '\0', n)) {
		api_error(resp, 400, "invalid_argument",
			  "boot_args: too long (at most %zu bytes) or holds a NUL",
			  sizeof(out->boot_args) - 1);
		return -EINVAL;
	}
	memcpy(out->boot_args, json_string_value(v), n + 1);
	return 0;
}

int route_run_args_check(const struct ui_image *img, const struct run_params *run,
			 struct http_response *resp)
{
	char why[160];

	if (!img || (!run->cmd_set && !run->boot_args[0]))
		return 0;
	if (!img->allow_cmd) {
		api_error(resp, 400, "invalid_argument",
			  "image %s does not allow a per-run cmd or boot_args (allow_cmd: false)",
			  img->name);
		return -EINVAL;
	}
	if ((run->cmd_set && ui_cmd_check(&run->cmd, img->kind, why, sizeof(why)) < 0) ||
	    ui_boot_args_check(run->boot_args, strlen(run->boot_args), img->kind, why,
			       sizeof(why)) < 0) {
		api_error(resp, 400, "invalid_argument", "%s", why);
		return -EINVAL;
	}
	return 0;
}
