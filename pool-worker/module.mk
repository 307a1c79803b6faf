# pool-worker/ — the VM lifecycle engine: rings, per-VM state machine, VMM
# drivers (QEMU, Firecracker), QMP and Firecracker API clients, KVM probe
# (see pool-worker/*.c).
POOL_SRCS := $(wildcard pool-worker/*.c)
POOL_OBJS := $(POOL_SRCS:%.c=$(BUILD)/obj/%.o)

PROGRAMS += $(BUILD)/bin/pool-worker

$(BUILD)/bin/pool-worker: $(POOL_OBJS) $(LIBSHARED)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(POOL_OBJS) $(LIBSHARED) $(LDLIBS)

$(eval $(call unit_test,test_qmp,$(BUILD)/obj/pool-worker/qmp.o $(BUILD)/obj/pool-worker/cmdline.o))
$(eval $(call unit_test,test_kvm_probe,$(BUILD)/obj/pool-worker/accel.o))
$(eval $(call unit_test,test_fc_client,$(BUILD)/obj/pool-worker/fc_client.o $(BUILD)/obj/pool-worker/fc_answer.o $(BUILD)/obj/pool-worker/fc_bodies.o))
$(eval $(call unit_test,test_vmm_proc,$(BUILD)/obj/pool-worker/vmm_proc.o $(BUILD)/obj/pool-worker/vmm_priv.o $(BUILD)/obj/pool-worker/fc_jail.o $(BUILD)/obj/pool-worker/cmdline.o $(BUILD)/obj/pool-worker/cgroup.o))
$(eval $(call unit_test,test_pool,$(BUILD)/obj/pool-worker/pool_policy.o))
$(eval $(call unit_test,test_snapshot,$(BUILD)/obj/pool-worker/snapshot_argv.o $(BUILD)/obj/pool-worker/cmdline.o))
$(eval $(call unit_test,test_snapshot_fc,$(BUILD)/obj/pool-worker/fc_bodies.o $(BUILD)/obj/pool-worker/fc_agent.o $(BUILD)/obj/pool-worker/snapshot_argv.o $(BUILD)/obj/pool-worker/cmdline.o))
$(eval $(call unit_test,test_fsm,$(BUILD)/obj/pool-worker/fsm.o))
$(eval $(call unit_test,test_ready,$(BUILD)/obj/pool-worker/ready.o))
$(eval $(call unit_test,test_cgroup,$(BUILD)/obj/pool-worker/cgroup.o))
$(eval $(call unit_test,test_console,$(BUILD)/obj/pool-worker/console.o))
$(eval $(call unit_test,test_pool_image,$(BUILD)/obj/pool-worker/pool_image.o $(BUILD)/obj/pool-worker/pool_mem.o))
$(eval $(call unit_test,test_vmm_priv,$(BUILD)/obj/pool-worker/vmm_priv.o $(BUILD)/obj/pool-worker/fc_jail.o $(BUILD)/obj/pool-worker/cmdline.o))
$(BUILD)/tests/test_vmm_priv: $(BUILD)/bin/uigniter-vmm-exec
$(eval $(call unit_test,test_orphans,$(BUILD)/obj/pool-worker/orphans.o $(BUILD)/obj/pool-worker/fsm.o $(BUILD)/obj/pool-worker/vmm_priv.o $(BUILD)/obj/pool-worker/fc_jail.o $(BUILD)/obj/pool-worker/cmdline.o))
