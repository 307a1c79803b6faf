# tools/guest/ — the demo guest's own programs, in one static binary,
# uigniter-guest (main.c: run by the name of a link, as busybox is):
# uigniter-seed (seed.c, seed_hex.c) and uigniter-agent (agent.c,
# agent_line.c: the snapshot agent over vsock). tools/mkguest puts it in
# the initramfs with a symlink for each. Static, with its own flags: the
# guest has no libc, and the sanitizers' runtime does not belong in it.
# Built with `guest` into build/ (like build/guest, whatever $(BUILD) is),
# with hard links build/guest-bin/uigniter-seed and uigniter-agent for
# tests on the host. Same inputs -> same bytes (no -g, stripped): the
# binary is part of mkguest's input hash.
GUEST_CC ?= gcc
GUEST_CFLAGS := -std=gnu11 -Os -Wall -Wextra -Werror -D_GNU_SOURCE -static -s
GUEST_BIN := build/guest-bin/uigniter-guest
GUEST_SRCS := tools/guest/main.c tools/guest/seed.c tools/guest/seed_hex.c \
	tools/guest/agent.c tools/guest/agent_line.c
GUEST_HDRS := tools/guest/guest_main.h tools/guest/seed_hex.h tools/guest/agent_line.h
SEED_BIN := build/guest-bin/uigniter-seed
AGENT_BIN := build/guest-bin/uigniter-agent

$(GUEST_BIN): $(GUEST_SRCS) $(GUEST_HDRS) tools/guest/module.mk
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_CFLAGS) -o $@.tmp $(GUEST_SRCS)
	mv -f $@.tmp $@

$(SEED_BIN) $(AGENT_BIN): $(GUEST_BIN)
	ln -f $< $@

guest: $(GUEST_BIN) $(SEED_BIN) $(AGENT_BIN)

# the parsers, unit-tested on the host (tests/unit/test_seed.c,
# tests/unit/test_vsock_agent.c)
$(eval $(call unit_test,test_seed,$(BUILD)/obj/tools/guest/seed_hex.o))
$(eval $(call unit_test,test_vsock_agent,$(BUILD)/obj/tools/guest/agent_line.o))
