# `make` builds the module exactly as `make -f Makefile.apxs` does (it is
# included below, unchanged). The targets here are the sanitizer and fuzz
# runs of issue 6 (t/fuzz/README.md tells how to read their reports):
#   make asan        .libs-asan/mod_qsso.so: the same sources built with
#                    ASan + UBSan, for the real httpd (t/asan/httpd)
#   make test-asan   the whole integration suite against that module, in an
#                    httpd whose libapr-1 has pool debugging (built once by
#                    tools/build-pool-debug-apr.sh); fails on any sanitizer
#                    report (t/asan/run.sh)
#   make fuzz        every libFuzzer target for FUZZ_SECONDS (default 60)
#   make fuzz-replay each committed fuzz corpus input once (quick)
#   make memcheck    valgrind over a login + 1,000 protected requests
include Makefile.apxs

ASAN_DIR := .libs-asan
# clang, whose ASan runtime carries UBSan too: with gcc, libubsan arrives
# by dlopen beside the preloaded libasan and both runtimes then write their
# reports to stderr (httpd's error_log), whatever log_path says.
ASAN_CC ?= clang-14
ASAN_RUNTIME := $(shell $(ASAN_CC) -print-file-name=libclang_rt.asan-x86_64.so)
# apxs' own preprocessor flags, minus _FORTIFY_SOURCE, whose checked string
# functions ASan replaces anyway. No warning flags: the normal build holds
# the sources to -Wall -Wextra -Werror, and clang only adds noise from
# httpd's own macros (AP_INIT_* initialisers).
ASAN_CFLAGS := -g -O1 -fPIC -fsanitize=address,undefined \
    -fno-omit-frame-pointer -std=gnu99 \
    $(filter-out -D_FORTIFY_SOURCE=%,$(shell $(APXS) -q CPPFLAGS)) \
    -I$(shell $(APXS) -q INCLUDEDIR) \
    $(shell apr-1-config --cppflags --includes) \
    $(shell apu-1-config --includes) $(PKG_CFLAGS)
ASAN_OBJS := $(SRC:%.c=$(ASAN_DIR)/obj/%.o)

asan: $(ASAN_DIR)/mod_qsso.so

$(ASAN_DIR)/obj/%.o: %.c $(HDR) Makefile
	@mkdir -p $(@D)
	$(ASAN_CC) $(ASAN_CFLAGS) -c -o $@ $<

$(ASAN_DIR)/mod_qsso.so: $(ASAN_OBJS)
	$(ASAN_CC) -shared -fsanitize=address,undefined -shared-libasan \
	    -Wl,-rpath,$(dir $(ASAN_RUNTIME)) -o $@ $^ $(PKG_LIBS)

# A libapr-1 with pool debugging, for test-asan's httpd: built once from
# Debian's source package of the installed version, then cached.
apr-pool-debug:
	bash tools/build-pool-debug-apr.sh

test-asan: asan apr-pool-debug
	QSSO_ASAN_RUNTIME=$(ASAN_RUNTIME) bash t/asan/run.sh

fuzz:
	$(MAKE) -C t/fuzz fuzz

fuzz-replay:
	$(MAKE) -C t/fuzz replay

memcheck: .libs/mod_qsso.so
	bash t/memcheck.sh

clean-asan:
	rm -rf $(ASAN_DIR)
	$(MAKE) -C t/fuzz clean

.PHONY: asan apr-pool-debug test-asan fuzz fuzz-replay memcheck clean-asan
