/*
 * fuzz_manifest.c — libFuzzer target: the image manifest parser
 * (shared/manifest.c, over config_fields.c's helpers) on the input as the
 * text of DIR/image.yaml, through ui_manifest_load_text() with DIR = "/"
 * (host paths then name real files of the fuzzing host: /bin/sh exists,
 * most guesses do not — both paths of the existence check run).
 *
 * Oracle, beyond the sanitizers: a failed load names the file in its message
 * and leaves every list empty; a loaded manifest has a valid name, a
 * non-empty argv whose first item is not "", absolute guest and host paths,
 * ports and ready port in range, and the osv keys only with kind: osv.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "manifest.h"

#define NAME "fuzz/image.yaml"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	ui_log_init("fuzz_manifest", UI_LOG_ERROR);
	return 0;
}

static void check_files(const struct ui_mfile *f, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (f[i].guest[0] != '/' || f[i].host[0] != '/')
			abort();
}

static void check_loaded(const struct ui_manifest *m)
{
	if (!m->name[0] || !m->n_cmd || !m->cmd[0][0] || m->vcpus < 1 || m->vcpus > 32 ||
	    m->mem_mib < 16 || m->mem_mib > 65536 || m->ready_port > 65535)
		abort();
	if (m->kind == UI_KIND_OSV ? (!m->loader[0] || !m->disk[0] || m->n_files || m->n_binaries)
				    : (m->loader[0] || m->disk[0]))
		abort();
	for (size_t i = 0; i < m->n_ports; i++)
		if (m->ports[i] < 1 || m->ports[i] > 65535)
			abort();
	for (size_t i = 0; i < m->n_env; i++)
		if (!strchr(m->env[i], '=') || strchr(m->env[i], '\n'))
			abort();
	check_files(m->files, m->n_files);
	check_files(m->binaries, m->n_binaries);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ui_manifest m;
	char err[2048];

	if (ui_manifest_load_text(NAME, "/", (const char *)data, size, &m, err, sizeof(err)) == 0) {
		check_loaded(&m);
		ui_manifest_free(&m);
		return 0;
	}
	if (strncmp(err, NAME, strlen(NAME)) || m.n_cmd || m.n_files || m.n_binaries || m.n_env ||
	    m.n_ports)
		abort();
	return 0;
}
