# baretap build and test entry points. `make test` is what CI runs (.ci/run).
SHELL := /bin/bash
GO       ?= go
VERSION  ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
BUILD    := build
# Packages that only build for the board (GOARCH=arm); kern has portable parts with host tests.
BOARD_PKGS_RE := /board(/|$$)
FUZZTIME ?= 30s

# The firmware is built with the stock toolchain as a linux/arm program with its own entry point.
FW_ENV   := GOOS=linux GOARCH=arm GOARM=7 CGO_ENABLED=0
FW_LDFLAGS := -E github.com/baretap/baretap/kern.rt0 -T 0x80011000 -X main.version=$(VERSION)
# `make qemu`: UART1 on stdio (-nographic: Ctrl-A x quits QEMU, Ctrl-A h lists the keys), both
# ENETs on UDP loopback netdevs that need no root. ENETn takes frames sent to 127.0.0.1:PORT
# and sends what it transmits to 127.0.0.1:PEER, one Ethernet frame per datagram.
FW_ENET1_PORT ?= 5550
FW_ENET1_PEER ?= 5551
FW_ENET2_PORT ?= 5552
FW_ENET2_PEER ?= 5553
FW_NETDEV = -netdev dgram,id=$(1),local.type=inet,local.host=127.0.0.1,local.port=$(2),remote.type=inet,remote.host=127.0.0.1,remote.port=$(3) -net nic,netdev=$(1)
# UART1 is the console (the monitor mux on stdio: Ctrl-A x quits); UART2 carries the pcap that
# `capture start` streams, into FW_CAPTURE.
FW_CAPTURE ?= $(BUILD)/capture.pcap
FW_QEMU_ARGS = -M mcimx6ul-evk -cpu cortex-a7 -m 512M -nographic -semihosting \
	-serial mon:stdio -serial file:$(FW_CAPTURE) \
	$(call FW_NETDEV,enet1,$(FW_ENET1_PORT),$(FW_ENET1_PEER)) \
	$(call FW_NETDEV,enet2,$(FW_ENET2_PORT),$(FW_ENET2_PEER))
# `make qemu` replays this capture into ENET1, FW_REPLAY_PPS frames a second, looping, for as long
# as QEMU runs (nothing is sent when the file is absent).
FW_TRAFFIC ?= ../shared/bench/traffic.pcap
FW_REPLAY_PPS ?= 100
# test-qemu's bound: the QEMU tests take about a minute; 5m is the hard stop.
FW_TEST_TIMEOUT ?= 9m

.PHONY: all deps test vet test-host test-arm test-qemu bench fuzz firmware tool qemu clean

all: test

# deps installs what the tests need when it is missing (Debian: apt-get) and fetches Go modules.
deps:
	@missing=""; \
	command -v tcpdump >/dev/null 2>&1 || missing="$$missing tcpdump"; \
	command -v tshark >/dev/null 2>&1 || missing="$$missing tshark"; \
	command -v qemu-system-arm >/dev/null 2>&1 || missing="$$missing qemu-system-arm"; \
	command -v qemu-arm >/dev/null 2>&1 || missing="$$missing qemu-user"; \
	command -v gcc >/dev/null 2>&1 || missing="$$missing gcc"; \
	command -v arm-none-eabi-objdump >/dev/null 2>&1 || missing="$$missing binutils-arm-none-eabi"; \
	[ -f /usr/include/pcap/pcap.h ] || missing="$$missing libpcap-dev"; \
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

test: deps vet test-host test-arm test-qemu

HOST_PKGS = $(shell $(GO) list ./... | grep -v -E '$(BOARD_PKGS_RE)')

test-host:
	$(GO) test -race -count=1 -timeout 20m $(HOST_PKGS)

# The bpf package again as GOARCH=arm under qemu-arm (user mode), so the ARM code generator runs
# every filter test the host runs (no -race on linux/arm); arm-none-eabi-objdump checks encodings.
test-arm:
	GOARCH=arm GOARM=7 $(GO) test -count=1 -timeout 10m -exec qemu-arm ./bpf/

# The QEMU tests skip unless BARETAP_QEMU=1, so test-host (which also lists ./qemu/...) does
# not boot QEMU; here they run, with -race for the harness. Full log: build/qemu-test.log.
test-qemu:
	@mkdir -p $(BUILD); BARETAP_QEMU=1 $(GO) test -race -count=1 -timeout $(FW_TEST_TIMEOUT) -v ./qemu/... 2>&1 | tee $(BUILD)/qemu-test.log | grep -E '^(=== RUN|--- |PASS|FAIL|ok|panic|\s+\S+_test.go)' ; exit $${PIPESTATUS[0]}

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
	$(FW_ENV) $(GO) build -trimpath -ldflags "$(FW_LDFLAGS)" -o $@ ./cmd/firmware

FORCE:

# The host tool: `baretap filter` and `baretap replay`.
tool: $(BUILD)/baretap

$(BUILD)/baretap: FORCE
	@mkdir -p $(BUILD)
	$(GO) build -trimpath -o $@ ./cmd/baretap

qemu: deps firmware tool
	@if [ -f $(FW_TRAFFIC) ]; then echo "make qemu: replaying $(FW_TRAFFIC) into ENET1 (enet0) at $(FW_REPLAY_PPS) frames/s; captures go to $(FW_CAPTURE)"; \
	else echo "make qemu: $(FW_TRAFFIC) not found, so no traffic is sent; captures go to $(FW_CAPTURE)"; fi
	[ ! -f $(FW_TRAFFIC) ] || $(BUILD)/baretap replay -r $(FW_TRAFFIC) -to 127.0.0.1:$(FW_ENET1_PORT) -from 127.0.0.1:$(FW_ENET1_PEER) -pps $(FW_REPLAY_PPS) -loop -wait 1s & replay=$$!; trap 'kill $$replay 2>/dev/null' EXIT; qemu-system-arm $(FW_QEMU_ARGS) -kernel $(BUILD)/firmware.elf

clean:
	rm -rf $(BUILD)
