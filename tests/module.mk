# tests/ — unit tests are declared by each directory's module.mk with
# UNIT_TEST_RULE; the runner is tests/run-tests.sh.

# $(call unit_test,name,extra objects): builds $(BUILD)/tests/name from
# tests/unit/name.c + objects + libuishared.
define unit_test
UNIT_TESTS += $(BUILD)/tests/$(1)
$(BUILD)/tests/$(1): tests/unit/$(1).c $(2) $(LIBSHARED) $(wildcard tests/unit/*.h)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(CFLAGS) -Itests/unit $$(LDFLAGS) -o $$@ $$< $(2) $$(LIBSHARED) $$(LDLIBS)
endef

include tests/fakes/module.mk
