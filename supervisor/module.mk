# supervisor/ — uigniterd, the process supervisor.
SUPERVISOR_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard supervisor/*.c))
PROGRAMS += $(BUILD)/bin/uigniterd

$(BUILD)/bin/uigniterd: $(SUPERVISOR_OBJS) $(LIBSHARED)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(SUPERVISOR_OBJS) $(LIBSHARED) $(LDLIBS)

$(eval $(call unit_test,test_supervise,$(BUILD)/obj/supervisor/supervise.o))
$(eval $(call unit_test,test_notify,$(BUILD)/obj/supervisor/notify.o))
