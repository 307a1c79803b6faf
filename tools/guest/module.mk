# tools/guest/ — the demo guest's own program, uigniter-seed (seed.c,
# seed_hex.c), copied into the initramfs by tools/mkguest. A static binary
# with its own flags: the guest has no libc, and the sanitizers' runtime
# does not belong in it. Built with `guest` into build/ (like build/guest,
# whatever $(BUILD) is). Same inputs -> same bytes (no -g, stripped): the
# binary is part of mkguest's input hash.
GUEST_CC ?= gcc
GUEST_CFLAGS := -std=gnu11 -Os -Wall -Wextra -Werror -D_GNU_SOURCE -static -s
SEED_BIN := build/guest-bin/uigniter-seed
SEED_SRCS := tools/guest/seed.c tools/guest/seed_hex.c

$(SEED_BIN): $(SEED_SRCS) tools/guest/seed_hex.h tools/guest/module.mk
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_CFLAGS) -o $@.tmp $(SEED_SRCS)
	mv -f $@.tmp $@

guest: $(SEED_BIN)

# the parser, unit-tested on the host (tests/unit/test_seed.c)
$(eval $(call unit_test,test_seed,$(BUILD)/obj/tools/guest/seed_hex.o))
