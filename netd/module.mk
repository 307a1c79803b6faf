# netd/ — the network daemon: bridge, taps, IPv4/MAC leases (see netd/*.c).
NETD_SRCS := $(wildcard netd/*.c)
NETD_OBJS := $(NETD_SRCS:%.c=$(BUILD)/obj/%.o)

PROGRAMS += $(BUILD)/bin/netd

$(BUILD)/bin/netd: $(NETD_OBJS) $(LIBSHARED)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(NETD_OBJS) $(LIBSHARED) $(LDLIBS)

$(eval $(call unit_test,test_ipam,$(BUILD)/obj/netd/ipam.o))
$(eval $(call unit_test,test_netlink,$(BUILD)/obj/netd/netlink.o))
