/*
 * fuzz_config.c — libFuzzer target: the YAML config loader (shared/config.c,
 * config_fields.c) on the input as the file's text, through
 * ui_config_load_text() — the walk ui_config_load() runs after reading the
 * file.
 *
 * Oracle, beyond the sanitizers: a failed load names the file in its
 * message and leaves no images; a loaded config keeps the documented rules
 * (image names valid and found, warm_image an image, gateway inside the
 * subnet, absolute paths).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"

#define NAME "fuzz.yaml"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	ui_log_init("fuzz_config", UI_LOG_ERROR);
	return 0;
}

static void check_loaded(const struct ui_config *cfg)
{
	uint32_t mask = cfg->prefix_len ? ~0u << (32 - cfg->prefix_len) : 0;

	if (strcmp(cfg->path, NAME) || cfg->prefix_len < 16 || cfg->prefix_len > 30 ||
	    (cfg->gateway & mask) != (cfg->subnet & mask) || cfg->state_dir[0] != '/' ||
	    cfg->run_dir[0] != '/')
		abort();
	if (cfg->warm_image[0] && !ui_config_image(cfg, cfg->warm_image))
		abort();
	for (size_t i = 0; i < cfg->n_images; i++) {
		const struct ui_image *img = &cfg->images[i];

		if (!img->name[0] || ui_config_image(cfg, img->name) != img ||
		    img->kernel[0] != '/' || img->vcpus < 1 || img->vcpus > 32 ||
		    img->mem_mib < 16 || img->mem_mib > 65536)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ui_config cfg;
	char err[512];
	int r;

	r = ui_config_load_text(NAME, "/fuzz/etc", (const char *)data, size, &cfg, err,
				sizeof(err));
	if (r < 0) {
		if (strncmp(err, NAME ":", strlen(NAME) + 1) || cfg.images || cfg.n_images)
			abort();
		return 0;
	}
	check_loaded(&cfg);
	ui_config_free(&cfg);
	return 0;
}
