# vmm-exec/ — uigniter-vmm-exec: drops every privilege (groups, ids,
# capabilities, no_new_privs), then execs the VMM (see vmm-exec/main.c).
VMM_EXEC_OBJS := $(BUILD)/obj/vmm-exec/main.o

PROGRAMS += $(BUILD)/bin/uigniter-vmm-exec

$(BUILD)/bin/uigniter-vmm-exec: $(VMM_EXEC_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(VMM_EXEC_OBJS)
