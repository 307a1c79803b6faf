/*
 * driver.c — the table of VMM drivers (see driver.h). A new driver is one
 * more drv_<name>.c and one more line here.
 */
#include <string.h>

#include "driver.h"

const struct ui_vmm_driver *pw_driver_find(const char *name)
{
	static const struct ui_vmm_driver *const drivers[] = {
		&pw_drv_qemu, &pw_drv_firecracker,
	};

	for (size_t i = 0; i < sizeof(drivers) / sizeof(drivers[0]); i++)
		if (strcmp(drivers[i]->name, name) == 0)
			return drivers[i];
	return NULL;
}
