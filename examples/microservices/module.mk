# examples/microservices — the seed's microservice system as uigniter VMs
# (examples/microservices/README.md). One binary, build/bin/ms, plain libc +
# pthreads so an image manifest packages it with the libraries it loads.
MS_SRCS := $(wildcard examples/microservices/src/*.c)
MS_OBJS := $(MS_SRCS:%.c=$(BUILD)/obj/%.o)

$(BUILD)/bin/ms: $(MS_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lpthread

PROGRAMS += $(BUILD)/bin/ms
