/*
 * images.c — GET /images: one object per image of the config, in config
 * order (the file's images: first, then images_dir by file name):
 *   {"images":[{"name","kind","source","kernel","initrd"|"disk","vcpus",
 *               "mem_mib","ready":{"port":N[,"http":PATH]}|{"pattern":S}|null,
 *               "cmd":[…]|null}]}
 * ready follows the image's rule: a port wins over a pattern; neither means
 * ready once running (null). Reads only the config: no registry, no rings.
 */
#include <string.h>

#include <jansson.h>

#include "cmdargs.h"
#include "images.h"
#include "json.h"

static json_t *ready_json(const struct ui_image *img)
{
	if (img->ready_port && img->ready_http[0])
		return json_pack("{s:I,s:s}", "port", (json_int_t)img->ready_port, "http",
				 img->ready_http);
	if (img->ready_port)
		return json_pack("{s:I}", "port", (json_int_t)img->ready_port);
	if (img->ready_pattern[0])
		return json_pack("{s:s}", "pattern", img->ready_pattern);
	return json_null();
}

static json_t *cmd_json(const struct ui_image *img)
{
	json_t *a;

	if (!img->cmd.argc)
		return json_null();
	if (!(a = json_array()))
		return NULL;
	for (const char *s = ui_cmd_next(&img->cmd, NULL); s; s = ui_cmd_next(&img->cmd, s))
		json_array_append_new(a, json_string(s));
	return a;
}

static json_t *image_json(const struct ui_image *img)
{
	json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:o,s:o}", "name", img->name, "kind",
			      img->kind == UI_KIND_OSV ? "osv" : "linux", "source", img->source,
			      "kernel", img->kernel, "vcpus", (json_int_t)img->vcpus, "mem_mib",
			      (json_int_t)img->mem_mib, "ready", ready_json(img), "cmd",
			      cmd_json(img));

	if (!o)
		return NULL;
	if (img->kind == UI_KIND_OSV)
		json_object_set_new(o, "disk", json_string(img->disk));
	else
		json_object_set_new(o, "initrd", img->initrd[0] ? json_string(img->initrd) : json_null());
	return o;
}

void apid_images(const struct ui_config *cfg, struct http_response *r)
{
	json_t *list = json_array(), *o;

	for (size_t i = 0; list && i < cfg->n_images; i++) {
		if (!(o = image_json(&cfg->images[i]))) {
			json_decref(list);
			list = NULL;
			break;
		}
		json_array_append_new(list, o);
	}
	if (!list) {
		api_error(r, 500, "internal", "out of memory");
		return;
	}
	api_json(r, 200, json_pack("{s:o}", "images", list));
}
