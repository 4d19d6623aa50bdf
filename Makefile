# Ember: a deep-learning environment scripted in Lua 5.4, written in C.
#   make            build build/th (the interpreter) and build/torch/core.so
#   make test       install missing packages, build, run every spec
#   make run        train the tutorials' residual network on Fashion-MNIST (scripts/train.lua)
#   make demo       a tour of tensors and what th can do
#   make sanitize   build with ASan + UBSan into build-san/ and run the specs there
#   make bench      side-by-side benchmarks against PyTorch
#   make fuzz       fuzz torch.load with seeded mutations for FUZZ_SECONDS (60)
#   make fuzz-libfuzzer  libFuzzer + ASan + UBSan on every file reader for FUZZ_SECONDS
#   make install PREFIX=/usr/local
# CUDA: kernels/ is compiled when nvcc is found (CUDA=0 turns it off).

CC       ?= gcc
BUILD    ?= build
PREFIX   ?= /usr/local
OPT      ?= -O2
LUA_INC  ?= /usr/include/lua5.4
LUA_LIB  ?= -llua5.4
BUSTED   ?= $(shell command -v busted 2>/dev/null || echo /usr/bin/busted)

WARN = -Wall -Wextra -Wshadow -Wpointer-arith -Wstrict-prototypes -Wmissing-prototypes \
       -Wold-style-definition -Wformat=2 -Wundef -Wwrite-strings -Wimplicit-fallthrough \
       -Wvla -Wno-format-nonliteral
CFLAGS  += -std=gnu11 $(OPT) -g -fPIC -fopenmp $(WARN) -I$(LUA_INC) -D_GNU_SOURCE $(EXTRA_CFLAGS)
LDLIBS  += -fopenmp -lpng -lz -lm -ldl -lpthread

# ---- CUDA, where nvcc exists ----
NVCC ?= $(shell command -v nvcc 2>/dev/null || ls /usr/local/cuda/bin/nvcc 2>/dev/null)
CUDA ?= $(if $(NVCC),1,0)
ifeq ($(CUDA),1)
CUDA_HOME  ?= $(patsubst %/bin/nvcc,%,$(NVCC))
NVCCFLAGS  ?= -O2 -std=c++17 -Xcompiler -fPIC \
              -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 \
              -gencode arch=compute_90,code=compute_90
CFLAGS     += -DEM_HAVE_CUDA
CUDA_SRC   := $(wildcard kernels/*.cu)
CUDA_OBJ   := $(CUDA_SRC:%.cu=$(BUILD)/obj/%.o)
LDLIBS     += -L$(CUDA_HOME)/lib64 -lcudart_static -lrt -lstdc++
endif

CORE_SRC := $(wildcard core/*.c core/cpu/*.c core/autograd/*.c)
TH_SRC   := bindings/th.c $(wildcard bindings/th_*.c)
BIND_SRC := $(filter-out $(TH_SRC),$(wildcard bindings/*.c))
CORE_OBJ := $(CORE_SRC:%.c=$(BUILD)/obj/%.o)
BIND_OBJ := $(BIND_SRC:%.c=$(BUILD)/obj/%.o)
TH_OBJ   := $(TH_SRC:%.c=$(BUILD)/obj/%.o)
HEADERS  := $(wildcard core/*.h core/cpu/*.h core/autograd/*.h bindings/*.h kernels/*.h)

.PHONY: all deps test run demo sanitize bench fuzz fuzz-libfuzzer install uninstall clean

# Objects are rebuilt when the flags change (e.g. CUDA=0 after CUDA=1).
CONFIG_STAMP := $(BUILD)/.flags
CONFIG_LINE  := $(CC) $(CFLAGS) CUDA=$(CUDA)
$(shell mkdir -p $(BUILD); echo '$(CONFIG_LINE)' | cmp -s - $(CONFIG_STAMP) || echo '$(CONFIG_LINE)' > $(CONFIG_STAMP))

all: $(BUILD)/th $(BUILD)/torch/core.so

deps:
	@scripts/install-deps

$(BUILD)/obj/%.o: %.c $(HEADERS) $(CONFIG_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/obj/%.o: %.cu $(HEADERS) $(CONFIG_STAMP)
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) -c $< -o $@

$(BUILD)/th: $(TH_OBJ) $(BIND_OBJ) $(CORE_OBJ) $(CUDA_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LUA_LIB) -lreadline $(LDLIBS)

# The C module for a stock lua5.4 (make install puts it on lua's cpath).
$(BUILD)/torch/core.so: $(BIND_OBJ) $(CORE_OBJ) $(CUDA_OBJ)
	@mkdir -p $(dir $@)
	$(CC) -shared $(LDFLAGS) -o $@ $^ $(LDLIBS)

test: deps
	@$(MAKE) --no-print-directory all
	$(BUILD)/th $(BUSTED) -o spec/support/output.lua spec

run: deps
	@$(MAKE) --no-print-directory all
	$(BUILD)/th scripts/train.lua

demo: all
	$(BUILD)/th scripts/examples/demo.lua

# ASan + UBSan; the caching allocator is off there so use-after-free is caught.
sanitize: deps
	@$(MAKE) --no-print-directory BUILD=build-san CUDA=0 OPT=-O1 \
	  EXTRA_CFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -DEM_SANITIZE" \
	  LDFLAGS="-fsanitize=address,undefined" build-san/th
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  EMBER_SANITIZE=1 build-san/th $(BUSTED) -o spec/support/output.lua spec

bench: all
	../shared/bench/compare gemm op_overhead startup

# Seeded mutation fuzzing of torch.load (FUZZ_SEED to repeat a run); for C-level
# checks run it with the sanitizer build: make fuzz TH=build-san/th
FUZZ_SECONDS ?= 60
FUZZ_SEED    ?=
TH           ?= $(BUILD)/th
fuzz: all
	$(TH) scripts/fuzz/serialization.lua $(FUZZ_SECONDS) $(FUZZ_SEED)

# libFuzzer (clang, checked or installed by scripts/fuzz/need-clang) on torch.load,
# load_safetensors, load_npy, load_npz and load_pytorch: the core is compiled into
# build-fuzz/ with -fsanitize=fuzzer-no-link,address,undefined; the corpus
# (build-fuzz/corpus, kept between runs) starts from spec/fixtures/ files and saved
# checkpoints; findings are written to build-fuzz/crash-*. FUZZ_JOBS=2 runs two
# fuzzers at once; FUZZ_ARGS adds libFuzzer flags.
CLANG        ?= clang
FUZZ_JOBS    ?= 1
FUZZ_ARGS    ?=
FUZZ_SAN      = -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_BUILD    = build-fuzz
fuzz-libfuzzer:
	@scripts/fuzz/need-clang
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=$(CLANG) CUDA=0 OPT=-O1 \
	  EXTRA_CFLAGS="-fsanitize=fuzzer-no-link $(FUZZ_SAN) -DEM_SANITIZE -Wno-pass-failed -Wno-unknown-attributes" \
	  $(FUZZ_BUILD)/fuzz_load
	@mkdir -p $(FUZZ_BUILD)/corpus
	@$(MAKE) --no-print-directory all
	@$(BUILD)/th scripts/fuzz/seed_corpus.lua $(FUZZ_BUILD)/corpus
	cd $(FUZZ_BUILD) && ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  EMBER_FUZZ_STRICT=1 EMBER_SANITIZE=1 ./fuzz_load -max_total_time=$(FUZZ_SECONDS) -timeout=20 \
	  -rss_limit_mb=4096 -malloc_limit_mb=1024 -max_len=65536 -print_final_stats=1 \
	  $(if $(filter-out 1,$(FUZZ_JOBS)),-jobs=$(FUZZ_JOBS) -workers=$(FUZZ_JOBS)) $(FUZZ_ARGS) corpus

$(FUZZ_BUILD)/fuzz_load: scripts/fuzz/fuzz_load.c $(BIND_OBJ) $(CORE_OBJ)
	$(CC) $(CFLAGS) -Wno-missing-prototypes -DEMBER_LUA_DIR='"$(CURDIR)/lua"' -fsanitize=fuzzer $(LDFLAGS) \
	  -o $@ $^ $(LUA_LIB) $(LDLIBS)

LUA_SHARE = $(DESTDIR)$(PREFIX)/share/lua/5.4
LUA_CLIB  = $(DESTDIR)$(PREFIX)/lib/lua/5.4
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(LUA_SHARE) $(LUA_CLIB)/torch
	install -m 755 $(BUILD)/th $(DESTDIR)$(PREFIX)/bin/th
	install -m 755 $(BUILD)/torch/core.so $(LUA_CLIB)/torch/core.so
	cd lua && find . -name '*.lua' -exec install -D -m 644 {} $(LUA_SHARE)/{} \;

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/th $(LUA_CLIB)/torch/core.so
	cd lua && find . -name '*.lua' -exec rm -f $(LUA_SHARE)/{} \;

clean:
	rm -rf build build-san build-fuzz
