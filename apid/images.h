/*
 * images.h — GET /images (images.c): the images apid knows (the config's
 * images: and images_dir, as loaded at start or at the last SIGHUP).
 */
#ifndef APID_IMAGES_H
#define APID_IMAGES_H

#include "config.h"
#include "http.h"

void apid_images(const struct ui_config *cfg, struct http_response *r);

#endif
