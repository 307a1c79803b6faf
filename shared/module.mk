# shared/ — libuishared.a: config, log, registry, shm, rings, ipam, the daemon skeleton.
SHARED_SRCS := $(wildcard shared/*.c)
LIBSHARED := $(BUILD)/lib/libuishared.a

$(LIBSHARED): $(SHARED_SRCS:%.c=$(BUILD)/obj/%.o)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^
