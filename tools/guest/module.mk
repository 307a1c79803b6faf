# tools/guest/ — the demo guest's own programs, copied into the initramfs
# by tools/mkguest: uigniter-seed (seed.c, seed_hex.c) and uigniter-agent
# (agent.c, agent_line.c: the snapshot agent over vsock). Static binaries
# with their own flags: the guest has no libc, and the sanitizers' runtime
# does not belong in them. Built with `guest` into build/ (like build/guest,
# whatever $(BUILD) is). Same inputs -> same bytes (no -g, stripped): the
# binaries are part of mkguest's input hash.
GUEST_CC ?= gcc
GUEST_CFLAGS := -std=gnu11 -Os -Wall -Wextra -Werror -D_GNU_SOURCE -static -s
SEED_BIN := build/guest-bin/uigniter-seed
SEED_SRCS := tools/guest/seed.c tools/guest/seed_hex.c
AGENT_BIN := build/guest-bin/uigniter-agent
AGENT_SRCS := tools/guest/agent.c tools/guest/agent_line.c

$(SEED_BIN): $(SEED_SRCS) tools/guest/seed_hex.h tools/guest/module.mk
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_CFLAGS) -o $@.tmp $(SEED_SRCS)
	mv -f $@.tmp $@

$(AGENT_BIN): $(AGENT_SRCS) tools/guest/agent_line.h tools/guest/module.mk
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_CFLAGS) -o $@.tmp $(AGENT_SRCS)
	mv -f $@.tmp $@

guest: $(SEED_BIN) $(AGENT_BIN)

# the parsers, unit-tested on the host (tests/unit/test_seed.c,
# tests/unit/test_vsock_agent.c)
$(eval $(call unit_test,test_seed,$(BUILD)/obj/tools/guest/seed_hex.o))
$(eval $(call unit_test,test_vsock_agent,$(BUILD)/obj/tools/guest/agent_line.o))
