# tools/fsmtable — prints docs/ARCHITECTURE.md's state-machine table from
# pool-worker/fsm.c (not installed; `make build/tools/fsmtable`).
$(BUILD)/tools/fsmtable: tools/fsmtable/fsmtable.c $(BUILD)/obj/pool-worker/fsm.o
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/obj/pool-worker/fsm.o
