# apid/ — the REST API daemon (HTTP/1.1 on libuv + http-parser + jansson).
APID_SRCS := $(wildcard apid/*.c)
APID_OBJS := $(APID_SRCS:%.c=$(BUILD)/obj/%.o)
# Everything but main(): what the unit tests link against.
APID_LIB_OBJS := $(filter-out $(BUILD)/obj/apid/main.o,$(APID_OBJS))

PROGRAMS += $(BUILD)/bin/apid

$(BUILD)/bin/apid: $(APID_OBJS) $(LIBSHARED)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(APID_OBJS) $(LIBSHARED) $(LDLIBS)

$(eval $(call unit_test,test_http,$(APID_LIB_OBJS)))
# (with pool-worker's console rotation: a follow across a real one)
$(eval $(call unit_test,test_http_server,$(APID_LIB_OBJS) $(BUILD)/obj/pool-worker/console.o))
# OSv images and a run's cmd: pure parts of pool-worker and apid together.
$(eval $(call unit_test,test_osv,$(APID_LIB_OBJS) $(BUILD)/obj/pool-worker/cmdline.o $(BUILD)/obj/pool-worker/fc_bodies.o))
$(eval $(call unit_test,test_auth,$(APID_LIB_OBJS)))
# (shared/ring_vm.c against apid's JSON: a reply's VM answers as the row does)
$(eval $(call unit_test,test_ring_vm,$(APID_LIB_OBJS)))
