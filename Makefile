# Porthole: `make test` installs what a fresh Debian machine lacks, then runs every test;
# `make demo` runs the gateway against a local identity provider and a Redis upstream.

SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := test

# Debian packages, by who needs them (a command that proves each one is there: its package).
# `make demo` runs node (the IdP, the UI build), redis and openssl, and builds the desktop app
# against WebKitGTK and the tray library.
DEMO_DEB_TOOLS := redis-server:redis-server redis-cli:redis-tools node:nodejs npm:npm openssl:openssl
DESKTOP_DEB_PACKAGES := libwebkit2gtk-4.1-dev libayatana-appindicator3-dev librsvg2-dev libxdo-dev
# The tests start these as well.
TEST_DEB_TOOLS := nft:nftables tinyproxy:tinyproxy chromium:chromium sshd:openssh-server ssh:openssh-client \
	dbus-run-session:dbus-daemon gnome-keyring-daemon:gnome-keyring secret-tool:libsecret-tools \
	stunnel4:stunnel4 iperf3:iperf3 haproxy:haproxy \
	status-notifier-watcher:haskell-status-notifier-item-utils gtk-sni-tray-standalone:haskell-gtk-sni-tray-utils \
	dunst:dunst dbus-monitor:dbus-bin \
	dnsmasq:dnsmasq-base dig:dnsutils kdig:knot-dnsutils socat:socat xwininfo:x11-utils
# PostgreSQL's binaries are not on PATH in Debian: check the package instead (psql_tunnel.rs
# runs initdb, postgres and psql from /usr/lib/postgresql). The desktop's end-to-end test drives
# the real window under Xvfb through WebKitWebDriver.
TEST_DEB_PACKAGES := postgresql xvfb webkit2gtk-driver
NEXTEST_VERSION := 0.9.143
CARGO_FUZZ_VERSION := 0.13.2
# `make fuzz`: seconds per target, and the sanitizer (`none`: the code is safe Rust, and
# without ASan each target runs about twice as many inputs; use `address` to check deps).
FUZZ_SECONDS ?= 300
FUZZ_SANITIZER ?= none
# desktop_import saves (and fsyncs) a profile store per input: keep its temporary dirs in RAM.
FUZZ_TMPDIR ?= $(if $(wildcard /dev/shm),/dev/shm,/tmp)
FUZZ_TARGETS := connect_response gateway_head target gateway_config policy desktop_import login_callback
TAURI_DRIVER_VERSION := 2.1.0
# `make package`: the Tauri bundler's CLI (@tauri-apps/cli in package.json). No AppImage: its
# bundler downloads AppRun and linuxdeploy from outside the package registries at build time.
TAURI := node_modules/.bin/tauri
PACKAGE_BUNDLES := deb
# `make lint`'s unused-dependency check; the version is pinned because its verdict depends on it.
CARGO_MACHETE_VERSION := 0.9.2
# Where cargo-machete looks: the workspace's crates (fuzz/ is its own workspace, and
# --with-metadata would rewrite its lock file).
MACHETE_PATHS := crates src-tauri tests
# `make lint`'s dependency boundary: crates the gateway must not depend on (normal dependencies;
# tests may use them). The client engine and its HTTP client belong to the client side.
GATEWAY_MUST_NOT_USE := porthole-tunnel reqwest
# The check itself, one shell command (not a sub-make, which `make -n lint` would run).
DEPS_BOUNDARY = tree=$$(cargo tree -p porthole-gateway -e normal --offline --prefix none) || \
	{ echo "cannot list porthole-gateway's dependencies offline (run cargo fetch first)"; exit 1; }; \
	found=""; \
	for dep in $(GATEWAY_MUST_NOT_USE); do \
	  if grep -q "^$$dep v" <<<"$$tree"; then found="$$found $$dep"; fi; \
	done; \
	if [ -n "$$found" ]; then \
	  echo "porthole-gateway must not depend on the client side's$$found: find the path with" \
	    "cargo tree -p porthole-gateway -e normal -i <crate> and remove it"; \
	  exit 1; \
	fi
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: test deps deb-deps demo-deb-deps node-deps rust-deps machete-dep ui-build test-ui test-rust lint deps-boundary docs \
	bench-smoke demo clean-demo bench fuzz fuzz-replay package package-debug

## test: install what is missing, then run all tests (UI, Rust, end to end) and clippy.
test: deps ui-build test-ui test-rust lint bench-smoke

## deps: Debian packages, npm packages and the cargo tools the tests use, each only if missing.
deps: deb-deps node-deps rust-deps

# $(call deb_install,<command:package pairs>,<packages>): apt-get installs what is missing.
define deb_install
@missing=""; \
for pair in $(1); do \
  cmd=$${pair%%:*}; pkg=$${pair##*:}; \
  command -v "$$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$$cmd" ] || missing="$$missing $$pkg"; \
done; \
for pkg in $(2); do \
  dpkg -s "$$pkg" >/dev/null 2>&1 || missing="$$missing $$pkg"; \
done; \
if [ -n "$$missing" ]; then \
  echo "installing Debian packages:$$missing"; \
  $(SUDO) apt-get update -qq; \
  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
fi
endef

deb-deps:
	$(call deb_install,$(DEMO_DEB_TOOLS) $(TEST_DEB_TOOLS),$(DESKTOP_DEB_PACKAGES) $(TEST_DEB_PACKAGES))

# Only what `make demo` runs or builds.
demo-deb-deps:
	$(call deb_install,$(DEMO_DEB_TOOLS),$(DESKTOP_DEB_PACKAGES))

# node_modules is fresh when npm's record of it is newer than package-lock.json.
node-deps: node_modules/.package-lock.json
node_modules/.package-lock.json: package-lock.json package.json
	npm ci --no-audit --no-fund
	@touch $@

rust-deps: machete-dep
	@command -v cargo-nextest >/dev/null 2>&1 || cargo install --locked cargo-nextest --version $(NEXTEST_VERSION)
	@command -v tauri-driver >/dev/null 2>&1 || cargo install --locked tauri-driver --version $(TAURI_DRIVER_VERSION)

machete-dep:
	@[ "$$(cargo-machete --version 2>/dev/null)" = "$(CARGO_MACHETE_VERSION)" ] || \
	  cargo install --locked cargo-machete --version $(CARGO_MACHETE_VERSION)

## ui-build: the web UI the desktop app embeds (ui/dist); the Tauri crate needs it to compile.
ui-build: node-deps
	npm run ui:build

test-ui: ui-build
	npm run ui:test
	npm run ui:e2e

# The tests' build first, then the .deb of its desktop binary (seconds), which
# tests/tests/package_deb.rs installs and starts.
test-rust: node-deps
	cargo nextest run --workspace --no-run
	$(TAURI) bundle --debug --bundles deb --ci
	cargo nextest run --workspace --no-fail-fast

## package: release build of the desktop app, bundled by Tauri: target/release/bundle/deb/
## Porthole_<version>_<arch>.deb. The tauri crate (Cargo.lock) and @tauri-apps/api differ in
## minor version, which the CLI refuses without --ignore-version-mismatches.
package: demo-deb-deps ui-build
	$(TAURI) build --bundles $(PACKAGE_BUNDLES) --ci --ignore-version-mismatches

## package-debug: the .deb of the debug desktop binaries (the window and portholed) cargo built
## last (built first if missing): target/debug/bundle/deb/; what tests/tests/package_deb.rs tests.
package-debug: node-deps ui-build
	@[ -x target/debug/porthole-desktop ] && [ -x target/debug/portholed ] || cargo build -p porthole-desktop --bins
	$(TAURI) bundle --debug --bundles deb --ci

## lint: formatting (rustfmt.toml), unused dependencies (cargo-machete; a false positive goes in
## [package.metadata.cargo-machete] ignored, with the reason), the gateway's dependency boundary,
## clippy. Runs all four, then fails if any failed.
lint: machete-dep
	@failed=""; \
	cargo fmt --all --check || failed="$$failed formatting (run cargo fmt --all);"; \
	cargo machete --with-metadata $(MACHETE_PATHS) || failed="$$failed unused dependencies (remove them);"; \
	( $(DEPS_BOUNDARY) ) || failed="$$failed dependency boundary;"; \
	cargo clippy --workspace --all-targets -- -D warnings || failed="$$failed clippy;"; \
	if [ -n "$$failed" ]; then echo "make lint failed:$$failed"; exit 1; fi

## deps-boundary: fails when porthole-gateway depends on a crate of GATEWAY_MUST_NOT_USE.
deps-boundary:
	@$(DEPS_BOUNDARY)

## docs: regenerate docs/desktop-api.md from the bindings and the desktop's commands (the test
## suite fails while it is stale).
docs:
	UPDATE_DOCS=1 cargo nextest run -p porthole-e2e --test desktop_api

# A ~15 s run of every benchmark path on the debug binaries the tests just built (no rebuild):
# proves bench/run works, measures nothing.
bench-smoke:
	PORTHOLE_BENCH_PROFILE=debug bench/run --smoke --no-deps --no-build

## demo: build, start the IdP and a Redis upstream, run porthole-gateway (Ctrl-C stops all).
## Installs only what the demo runs, not the test toolchain.
demo: demo-deb-deps node-deps
	scripts/demo.sh

clean-demo:
	rm -rf target/demo

## bench: release build, then every benchmark path interleaved; prints the table and writes
## bench/results/*.json. bench/run installs stunnel4, iperf3 and haproxy itself when missing.
bench: node-deps
	bench/run

## fuzz: each cargo-fuzz target for FUZZ_SECONDS (default 300) on one core (nightly; heads
## up to 20 KiB so the 16 KiB head limits are reached, other inputs up to 4 KiB). New
## inputs go to fuzz/target/corpus/<target> (the committed fuzz/corpus is read as seeds); a
## crash stops the run and leaves its input in fuzz/artifacts/<target>/. The last lines of
## fuzz/target/logs/<target>.log give executions and exec/s (stat::number_of_executed_units).
fuzz:
	@command -v cargo-fuzz >/dev/null 2>&1 || cargo install --locked cargo-fuzz --version $(CARGO_FUZZ_VERSION)
	cd fuzz && cargo +nightly fuzz build -s $(FUZZ_SANITIZER)
	cd fuzz && mkdir -p target/logs && for t in $(FUZZ_TARGETS); do \
	  mkdir -p target/corpus/$$t; \
	  echo "fuzzing $$t for $(FUZZ_SECONDS) s"; \
	  case $$t in connect_response|gateway_head) len=20480;; *) len=4096;; esac; \
	  TMPDIR=$(FUZZ_TMPDIR) cargo +nightly fuzz run -s $(FUZZ_SANITIZER) $$t target/corpus/$$t corpus/$$t -- \
	    -max_total_time=$(FUZZ_SECONDS) -max_len=$$len -print_final_stats=1 2>&1 | tee target/logs/$$t.log | grep -E '^(Done|stat::number_of_executed_units|stat::average_exec_per_sec)|panicked|SUMMARY' ; \
	done

## fuzz-replay: only the committed corpus through every target's function, on stable, in
## seconds (make test runs it as part of test-rust).
fuzz-replay:
	cargo nextest run -p porthole-e2e --test fuzz_corpus
