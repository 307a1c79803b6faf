# tests/fakes/ — test doubles for programs uigniter drives but that cannot be
# installed here. `firecracker`: a fake Firecracker VMM that serves the HTTP
# API on its unix socket, validating every request against
# ../shared/reference/firecracker-api-v1.16.1.yaml (see tests/fakes/README.md).
FC_FAKE_SRCS := $(wildcard tests/fakes/fc_*.c)
FC_FAKE_OBJS := $(FC_FAKE_SRCS:%.c=$(BUILD)/obj/%.o)
FC_FAKE_BIN := $(BUILD)/tests/fakes/firecracker

# Built with the unit tests; the runner only executes files named test_*.
UNIT_TESTS += $(FC_FAKE_BIN)

$(FC_FAKE_BIN): $(FC_FAKE_OBJS) $(LIBSHARED)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(FC_FAKE_OBJS) $(LIBSHARED) $(LDLIBS)

$(eval $(call unit_test,test_fc_fake,))
$(BUILD)/tests/test_fc_fake: $(FC_FAKE_BIN)

# The same fake linked statically, as a jailed Firecracker must be (the
# chroot has no libraries), and the jailer fake (tests/fakes/jailer/).
# Neither is built under sanitizers (no static ASan).
ifeq ($(SANITIZE)$(FUZZ),)
FC_FAKE_STATIC := $(BUILD)/tests/fakes/static/firecracker
JAILER_FAKE := $(BUILD)/tests/fakes/jailer
UNIT_TESTS += $(FC_FAKE_STATIC) $(JAILER_FAKE)

$(FC_FAKE_STATIC): $(FC_FAKE_OBJS) $(LIBSHARED)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -static -o $@ $(FC_FAKE_OBJS) $(LIBSHARED) -lyaml -ljansson \
		-l:libuv_a.a -lhttp_parser -lpthread -ldl -lrt

$(JAILER_FAKE): $(BUILD)/obj/tests/fakes/jailer/main.o
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^
endif

# Snapshots and vsock (tests/unit/test_fc_fake_snapshot.c): the fake, and
# the jailer fake with the static fake when they are built.
$(eval $(call unit_test,test_fc_fake_snapshot,))
$(BUILD)/tests/test_fc_fake_snapshot: $(FC_FAKE_BIN) $(FC_FAKE_STATIC) $(JAILER_FAKE)
