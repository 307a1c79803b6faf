# tools/uictl/ — uictl, the admin tool: acts through the API, reads the registry.
UICTL_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard tools/uictl/*.c))
PROGRAMS += $(BUILD)/bin/uictl

$(BUILD)/bin/uictl: $(UICTL_OBJS) $(LIBSHARED)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(UICTL_OBJS) $(LIBSHARED) $(LDLIBS) -lcrypto
