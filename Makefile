# Convenience wrapper around meson/ninja.  The build lives in build/.
BUILD ?= build
MESON_OPTS ?=
SUITES ?=

.PHONY: all deps check run bench clean

all: $(BUILD)/build.ninja
	ninja -C $(BUILD)

deps:
	@scripts/install-deps.sh

$(BUILD)/build.ninja:
	@scripts/install-deps.sh
	meson setup $(BUILD) $(MESON_OPTS)

check: deps all
	meson test -C $(BUILD) --print-errorlogs $(addprefix --suite ,$(SUITES))

run: deps all
	@scripts/demo.sh $(BUILD)

bench: deps all
	@bench/run.sh $(BUILD)

clean:
	rm -rf $(BUILD)
