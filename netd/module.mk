# netd/ — the network daemon: a reconciler of bridge and tap devices
# (main.c; the rules are plan.c, pure, tested by test_reconcile).
NETD_SRCS := $(wildcard netd/*.c)
NETD_OBJS := $(NETD_SRCS:%.c=$(BUILD)/obj/%.o)

PROGRAMS += $(BUILD)/bin/netd

$(BUILD)/bin/netd: $(NETD_OBJS) $(LIBSHARED)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(NETD_OBJS) $(LIBSHARED) $(LDLIBS)

$(eval $(call unit_test,test_netlink,$(BUILD)/obj/netd/netlink.o))
$(eval $(call unit_test,test_reconcile,$(BUILD)/obj/netd/plan.o $(BUILD)/obj/netd/vec.o))
