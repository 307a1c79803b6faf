/*
 * image.h — `uictl image …` (image.c), dispatched from main.c: argv[0] is
 * "uictl", argv[1] the subcommand; config is the global --config or NULL.
 * Returns the exit code.
 */
#ifndef UICTL_IMAGE_H
#define UICTL_IMAGE_H

int uictl_image(int argc, char **argv, const char *config);

#endif
