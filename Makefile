# uigniter — top-level, non-recursive Makefile. Each directory contributes a
# module.mk that adds its objects, programs and unit tests to the variables
# below; everything is built under $(BUILD).
#
#   make            build everything (daemons, tools, demo guest)
#   make test       unit tests, then system tests (root; real QEMU guests)
#   make asan       the same test suite built with ASan+UBSan (build-asan/)
#   make install    PREFIX=/usr/local DESTDIR= SYSCONFDIR=/etc (make uninstall)
#   make bench      benchmarks (see docs/BENCHMARKS.md)
#   make fuzz       libFuzzer targets (clang, build-fuzz/), FUZZ_SECONDS each

BUILD ?= build
PREFIX ?= /usr/local
DESTDIR ?=
SANITIZE ?=
FUZZ ?=
FUZZ_SECONDS ?= 30

PKGS := libuv yaml-0.1 libcurl libnl-3.0 libnl-route-3.0 sqlite3 jansson
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
PKG_LIBS := $(shell pkg-config --libs $(PKGS)) -lhttp_parser

CC ?= cc
OPT ?= -O2
CFLAGS := -std=gnu11 $(OPT) -g -Wall -Wextra -Werror -D_GNU_SOURCE \
	-Ishared $(PKG_CFLAGS) $(EXTRA_CFLAGS)
LDFLAGS := $(EXTRA_LDFLAGS)
LDLIBS := $(PKG_LIBS) -lpthread

ifneq ($(SANITIZE),)
CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif
# Fuzzing: every object gets coverage and ASan+UBSan; only the targets link
# libFuzzer's main (tests/fuzz/module.mk).
ifneq ($(FUZZ),)
CFLAGS += -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif

# Filled in by module.mk files.
PROGRAMS :=
UNIT_TESTS :=
CLEAN :=

all: programs guest

include shared/module.mk
include tests/module.mk
-include shared/tests.mk shared/tests-config.mk
include supervisor/module.mk
include netd/module.mk
include pool-worker/module.mk
include vmm-exec/module.mk
include apid/module.mk
include tools/uictl/module.mk
include examples/microservices/module.mk
include tools/fsmtable/module.mk
include tools/guest/module.mk
include tests/fuzz/module.mk

programs: $(PROGRAMS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

# The demo/test guest (kernel + initramfs), cached: rebuilt when inputs change.
guest:
	MKGUEST_HELPERS=$(GUEST_BIN) tools/mkguest build/guest

# Installs missing Debian packages by name (a no-op when all are present).
deps:
	tools/install-deps

test: deps
	$(MAKE) all unit-tests
	BUILD=$(BUILD) tests/run-tests.sh

unit-tests: $(UNIT_TESTS)

test-unit: $(UNIT_TESTS)
	BUILD=$(BUILD) tests/run-tests.sh unit

asan: deps
	$(MAKE) guest
	$(MAKE) BUILD=build-asan SANITIZE=1 programs unit-tests
	BUILD=build-asan tests/run-tests.sh

# Builds the fuzz targets with clang in build-fuzz/ and runs each for
# FUZZ_SECONDS on a copy of its seed corpus; fails on any crash, leak or UB.
fuzz: deps
	$(MAKE) BUILD=build-fuzz CC=clang FUZZ=1 fuzz-build
	FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run build-fuzz

# Install like a Debian service (docs: README "Installing"): binaries, the
# daemons in libexec, the demo guest and the config (never overwritten), the
# systemd unit, tmpfiles.d, man pages. The installed config's image paths
# point at the installed guest. `make uninstall` removes it all but a config
# that was changed.
SYSCONFDIR ?= /etc
BINDIR ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
LIBEXECDIR ?= $(PREFIX)/libexec/uigniter
DATADIR ?= $(PREFIX)/share/uigniter
MANDIR ?= $(PREFIX)/share/man
UNITDIR ?= $(PREFIX)/lib/systemd/system
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
INST_CONF := $(DESTDIR)$(SYSCONFDIR)/uigniter/uigniter.yaml
MANPAGES := man/uictl.1 man/uigniter.yaml.5 man/uigniterd.8

$(BUILD)/dist/uigniterd.service: dist/uigniterd.service.in Makefile
	@mkdir -p $(dir $@)
	sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' $< >$@

$(BUILD)/dist/uigniter.yaml: etc/uigniter.yaml Makefile
	@mkdir -p $(dir $@)
	sed -e 's|\.\./build/guest/|$(DATADIR)/guest/|g' $< >$@

install: programs guest $(BUILD)/dist/uigniterd.service $(BUILD)/dist/uigniter.yaml
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) $(DESTDIR)$(LIBEXECDIR) \
		$(DESTDIR)$(DATADIR)/guest $(DESTDIR)$(UNITDIR) $(DESTDIR)$(TMPFILESDIR) \
		$(DESTDIR)$(SYSCONFDIR)/uigniter $(addprefix $(DESTDIR)$(MANDIR)/man,1 5 8)
	install -m 0755 $(BUILD)/bin/uictl $(DESTDIR)$(BINDIR)/
	install -m 0755 $(BUILD)/bin/uigniterd $(DESTDIR)$(SBINDIR)/
	install -m 0755 $(BUILD)/bin/netd $(BUILD)/bin/pool-worker $(BUILD)/bin/apid \
		$(BUILD)/bin/uigniter-vmm-exec $(DESTDIR)$(LIBEXECDIR)/
	install -m 0644 build/guest/vmlinuz build/guest/initrd.cpio.gz $(DESTDIR)$(DATADIR)/guest/
	install -m 0644 $(BUILD)/dist/uigniterd.service $(DESTDIR)$(UNITDIR)/uigniterd.service
	install -m 0644 dist/uigniter.tmpfiles $(DESTDIR)$(TMPFILESDIR)/uigniter.conf
	install -m 0644 man/uictl.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 man/uigniter.yaml.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 man/uigniterd.8 $(DESTDIR)$(MANDIR)/man8/
	@if [ -e $(INST_CONF) ]; then \
		echo "install: keeping $(INST_CONF) (the new default: $(BUILD)/dist/uigniter.yaml)"; \
	else \
		echo "install -m 0644 $(BUILD)/dist/uigniter.yaml $(INST_CONF)"; \
		install -m 0644 $(BUILD)/dist/uigniter.yaml $(INST_CONF); \
	fi

uninstall: $(BUILD)/dist/uigniter.yaml
	rm -f $(DESTDIR)$(BINDIR)/uictl $(DESTDIR)$(SBINDIR)/uigniterd \
		$(addprefix $(DESTDIR)$(LIBEXECDIR)/,netd pool-worker apid uigniter-vmm-exec) \
		$(addprefix $(DESTDIR)$(DATADIR)/guest/,vmlinuz initrd.cpio.gz) \
		$(DESTDIR)$(UNITDIR)/uigniterd.service $(DESTDIR)$(TMPFILESDIR)/uigniter.conf \
		$(DESTDIR)$(MANDIR)/man1/uictl.1 $(DESTDIR)$(MANDIR)/man5/uigniter.yaml.5 \
		$(DESTDIR)$(MANDIR)/man8/uigniterd.8
	rmdir $(DESTDIR)$(LIBEXECDIR) $(DESTDIR)$(DATADIR)/guest $(DESTDIR)$(DATADIR) 2>/dev/null || true
	@if cmp -s $(BUILD)/dist/uigniter.yaml $(INST_CONF); then \
		echo "rm -f $(INST_CONF)"; rm -f $(INST_CONF); \
		rmdir $(DESTDIR)$(SYSCONFDIR)/uigniter 2>/dev/null || true; \
	elif [ -e $(INST_CONF) ]; then \
		echo "uninstall: keeping $(INST_CONF): it was changed"; \
	fi

clean:
	rm -rf $(BUILD) build-asan build-fuzz

.PHONY: all programs guest deps test unit-tests test-unit asan fuzz install uninstall clean

# Benchmarks (root; docs/BENCHMARKS.md): all parts, or `bench/run PART`.
bench: all
	bench/run
.PHONY: bench

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
