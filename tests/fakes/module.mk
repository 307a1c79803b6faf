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
