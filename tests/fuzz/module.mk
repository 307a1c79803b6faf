# tests/fuzz/ — libFuzzer targets over our real parsers (docs/BENCHMARKS.md,
# "Fuzzing"). Built only by `make fuzz`: clang, FUZZ=1, BUILD=build-fuzz, so
# every object is instrumented (ASan+UBSan+coverage); run by tests/fuzz/run.
FUZZ_TARGETS := http config qmp fc_answer manifest

FUZZ_OBJS_http := $(BUILD)/obj/apid/http.o $(BUILD)/obj/apid/routes.o $(BUILD)/obj/apid/json.o \
	$(BUILD)/obj/apid/auth.o $(BUILD)/obj/apid/events_query.o $(BUILD)/obj/apid/console_query.o \
	$(BUILD)/obj/apid/run_args.o $(BUILD)/obj/apid/query.o
FUZZ_OBJS_config :=
FUZZ_OBJS_manifest :=
FUZZ_OBJS_qmp := $(BUILD)/obj/pool-worker/qmp.o
FUZZ_OBJS_fc_answer := $(BUILD)/obj/pool-worker/fc_answer.o

FUZZ_BINS := $(FUZZ_TARGETS:%=$(BUILD)/fuzz/fuzz_%)

define fuzz_target
$(BUILD)/fuzz/fuzz_$(1): tests/fuzz/fuzz_$(1).c $(FUZZ_OBJS_$(1)) $(LIBSHARED)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(CFLAGS) -fsanitize=fuzzer $$(LDFLAGS) -o $$@ $$< $(FUZZ_OBJS_$(1)) $$(LIBSHARED) $$(LDLIBS)
endef
$(foreach t,$(FUZZ_TARGETS),$(eval $(call fuzz_target,$(t))))

fuzz-build: $(FUZZ_BINS)
.PHONY: fuzz-build
