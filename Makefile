# baretap build and test entry points. `make test` is what CI runs (.ci/run).
SHELL := /bin/bash
GO       ?= go
VERSION  ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
BUILD    := build
# Packages that only build for the board (GOARCH=arm); everything else is host-tested.
BOARD_PKGS_RE := /(kern|board)(/|$$)
FUZZTIME ?= 30s

# The firmware is built with the stock toolchain as a linux/arm program with its own entry point.
FW_ENV   := GOOS=linux GOARCH=arm GOARM=7 CGO_ENABLED=0
FW_LDFLAGS := -E github.com/baretap/baretap/kern.rt0 -T 0x80011000 -X main.version=$(VERSION)

.PHONY: all deps test vet test-host test-qemu bench fuzz firmware qemu clean

all: test

# deps installs what the tests need when it is missing (Debian: apt-get) and fetches Go modules.
deps:
	@missing=""; \
	command -v tcpdump >/dev/null 2>&1 || missing="$$missing tcpdump"; \
	command -v tshark >/dev/null 2>&1 || missing="$$missing tshark"; \
	command -v qemu-system-arm >/dev/null 2>&1 || missing="$$missing qemu-system-arm"; \
	command -v qemu-arm >/dev/null 2>&1 || missing="$$missing qemu-user"; \
	if [ -n "$$missing" ]; then \
		echo "deps: installing$$missing"; \
		SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi
	$(GO) mod download

vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null; git ls-files --others --exclude-standard '*.go' 2>/dev/null)); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...
	# kern and board poke MMIO through uintptr: unsafeptr reports every register access.
	$(FW_ENV) $(GO) vet -unsafeptr=false ./...

test: deps vet test-host test-qemu

HOST_PKGS = $(shell $(GO) list ./... | grep -v -E '$(BOARD_PKGS_RE)')

test-host:
	$(GO) test -race -count=1 -timeout 20m $(HOST_PKGS)

test-qemu:
	@mkdir -p $(BUILD); if [ -d qemu ]; then $(GO) test -count=1 -timeout 12m -v ./qemu/... 2>&1 | tee $(BUILD)/qemu-test.log | grep -E '^(=== RUN|--- |PASS|FAIL|ok|panic|\s+\S+_test.go)' ; exit $${PIPESTATUS[0]}; \
	else echo "test-qemu: no QEMU tests yet"; fi

bench:
	$(GO) test -run '^$$' -bench . -benchmem -timeout 60m $(HOST_PKGS)

# fuzz runs every fuzz target for FUZZTIME (go test -fuzz takes one target at a time).
fuzz:
	@for pkg in $(HOST_PKGS); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "fuzz $$pkg $$f"; \
			$(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		done; \
	done

firmware: $(BUILD)/firmware.elf

$(BUILD)/firmware.elf: FORCE
	@mkdir -p $(BUILD)
	@if [ ! -d cmd/firmware ]; then echo "firmware: cmd/firmware is not written yet (issue: bare-metal platform)"; exit 1; fi
	$(FW_ENV) $(GO) build -trimpath -ldflags "$(FW_LDFLAGS)" -o $@ ./cmd/firmware

FORCE:

qemu: deps firmware
	qemu-system-arm -M mcimx6ul-evk -cpu cortex-a7 -m 512M -nographic -semihosting \
		-kernel $(BUILD)/firmware.elf

clean:
	rm -rf $(BUILD)
