# jobrun — see README.md. `make` builds build/jobrun; `make test` installs what
# is missing (scripts/install-deps) and runs every test.

VERSION := 0.1.0
PREFIX ?= /usr/local
PKGS := libcurl jansson libpq

OPT ?= -O2 -g
WARN := -std=c11 -Wall -Wextra -Werror -Wformat=2 -Wvla
SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
CPPFLAGS += -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -DJOBRUN_VERSION='"$(VERSION)"'
# Dependencies point cmd -> jobs -> lib: each layer sees only the headers it
# may use, so an include the wrong way fails to build. The generated
# migration table is part of lib; tests see everything they test.
LAYER_INC = -Ilib
OBJ_ROOTS := build/obj build/asan/obj build/fuzz/obj
$(foreach r,$(OBJ_ROOTS),$(r)/jobs/%.o): LAYER_INC = -Ijobs -Ilib
$(foreach r,$(OBJ_ROOTS),$(r)/cmd/%.o $(r)/test/%.o): LAYER_INC = -Icmd -Ijobs -Ilib
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS = $(shell pkg-config --libs $(PKGS)) -lm

LIB_SRC := $(sort $(wildcard lib/*.c jobs/*.c))
CMD_SRC := $(sort $(wildcard cmd/*.c))
# The test helper (test/helper/test-tool.c, as git's t/helper): the commands
# only tests and benchmarks need, linked against every cmd/ object but
# jobrun's main, so build/jobrun does not contain them.
HELPER_SRC := $(sort $(wildcard test/helper/*.c)) $(filter-out cmd/jobrun.c,$(CMD_SRC))
SQL := $(sort $(wildcard lib/sql/*.sql))
UNIT_SRC := $(sort $(wildcard test/unit/test_*.c))
GEN := build/gen/migrations.c
# V=1 shows the full compiler command lines.
Q := $(if $(V),,@)

REL_OBJ := $(patsubst %.c,build/obj/%.o,$(LIB_SRC) $(CMD_SRC) $(GEN))
ASAN_LIB_OBJ := $(patsubst %.c,build/asan/obj/%.o,$(LIB_SRC) $(GEN))
ASAN_OBJ := $(ASAN_LIB_OBJ) $(patsubst %.c,build/asan/obj/%.o,$(CMD_SRC))
HELPER_OBJ := $(patsubst %.c,build/obj/%.o,$(LIB_SRC) $(HELPER_SRC) $(GEN))
ASAN_HELPER_OBJ := $(ASAN_LIB_OBJ) $(patsubst %.c,build/asan/obj/%.o,$(HELPER_SRC))
UNIT_BIN := $(patsubst test/unit/%.c,build/asan/unit/%,$(UNIT_SRC))

.PHONY: all test check unit e2e check-e2e demo bench valgrind install clean deps asan fuzz
.DELETE_ON_ERROR:
# Objects are intermediate to make only by accident: keep them.
.SECONDARY:

all: build/jobrun

deps:
	@scripts/install-deps

$(GEN): scripts/embed-sql $(SQL)
	@mkdir -p $(@D)
	scripts/embed-sql $(SQL) > $@

build/obj/%.o: %.c
	@mkdir -p $(@D)
	@echo "  CC      $<"
	$(Q)$(CC) $(CPPFLAGS) $(LAYER_INC) $(WARN) $(OPT) $(PKG_CFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

build/asan/obj/%.o: %.c
	@mkdir -p $(@D)
	@echo "  CC/SAN  $<"
	$(Q)$(CC) $(CPPFLAGS) $(LAYER_INC) $(WARN) -O1 -g $(SAN) $(PKG_CFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

build/jobrun: $(REL_OBJ)
	$(CC) $(OPT) $(LDFLAGS) $^ $(PKG_LIBS) -o $@

build/asan/jobrun: $(ASAN_OBJ)
	$(CC) -g $(SAN) $(LDFLAGS) $^ $(PKG_LIBS) -o $@

build/test-tool: $(HELPER_OBJ)
	$(CC) $(OPT) $(LDFLAGS) $^ $(PKG_LIBS) -o $@

build/asan/test-tool: $(ASAN_HELPER_OBJ)
	$(CC) -g $(SAN) $(LDFLAGS) $^ $(PKG_LIBS) -o $@

build/asan/unit/%: build/asan/obj/test/unit/%.o $(ASAN_LIB_OBJ)
	@mkdir -p $(@D)
	$(CC) -g $(SAN) $(LDFLAGS) $^ $(PKG_LIBS) -lcmocka -o $@

asan: build/asan/jobrun build/asan/test-tool

# `make test` is what CI and a new user run: dependencies first, then a
# fresh make so pkg-config sees the libraries it just installed.
test: deps
	@$(MAKE) --no-print-directory check

check: unit e2e

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; $$t; done

e2e: build/asan/jobrun build/asan/test-tool
	JOBRUN=$(CURDIR)/build/asan/jobrun TEST_TOOL=$(CURDIR)/build/asan/test-tool scripts/test-e2e

# One end-to-end test: make check-e2e T=test/t/0010-migrate.sh
check-e2e: build/asan/jobrun build/asan/test-tool
	JOBRUN=$(CURDIR)/build/asan/jobrun TEST_TOOL=$(CURDIR)/build/asan/test-tool scripts/test-e2e $(T)

valgrind: deps
	@$(MAKE) --no-print-directory build/jobrun build/test-tool
	JOBRUN=$(CURDIR)/build/jobrun TEST_TOOL=$(CURDIR)/build/test-tool \
	  JOBRUN_WRAPPER="valgrind -q --error-exitcode=99 \
	  --leak-check=full --errors-for-leak-kinds=definite,indirect \
	  --show-leak-kinds=definite,indirect --suppressions=$(CURDIR)/test/valgrind.supp" \
	  scripts/test-e2e $(T)

demo: deps
	@$(MAKE) --no-print-directory build/jobrun
	scripts/demo

bench: deps
	@$(MAKE) --no-print-directory build/jobrun build/test-tool
	scripts/bench

# Fuzzing (clang, libFuzzer): every parser of outside input, FUZZ_SECONDS
# each, seeded with the recorded API responses.
FUZZ_SECONDS ?= 30
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_NAMES := $(patsubst test/fuzz/%.c,%,$(sort $(wildcard test/fuzz/fuzz_*.c)))
FUZZ_LIB_OBJ := $(patsubst %.c,build/fuzz/obj/%.o,$(LIB_SRC) $(GEN))

build/fuzz/obj/%.o: %.c
	@mkdir -p $(@D)
	@echo "  CC/FUZZ $<"
	$(Q)clang $(CPPFLAGS) $(LAYER_INC) $(WARN) -O1 -g $(FUZZ_SAN) -fsanitize=fuzzer-no-link $(PKG_CFLAGS) -c $< -o $@

build/fuzz/%: build/fuzz/obj/test/fuzz/%.o $(FUZZ_LIB_OBJ)
	clang -g $(FUZZ_SAN) -fsanitize=fuzzer $^ $(PKG_LIBS) -o $@

fuzz: deps
	@$(MAKE) --no-print-directory $(addprefix build/fuzz/,$(FUZZ_NAMES))
	@set -e; for f in $(FUZZ_NAMES); do \
	  mkdir -p build/fuzz/corpus/$$f; cp test/fixtures/comicvine/*.json build/fuzz/corpus/$$f/; \
	  echo "== $$f ($(FUZZ_SECONDS)s)"; \
	  build/fuzz/$$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 build/fuzz/corpus/$$f 2>&1 | tail -4; \
	done

install: build/jobrun
	install -D -m 0755 build/jobrun $(DESTDIR)$(PREFIX)/bin/jobrun

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
