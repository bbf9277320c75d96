# flightdeck — common tasks. Every target works on a machine with only Go and git,
# except `integration`, which needs Debian's prometheus, docker-registry and chromium
# packages (.ci/run installs them).

GO       ?= go
PKGS     ?= ./...
CONTRIB  := $(wildcard contrib/*/go.mod)

.PHONY: test test-all unit contrib contrib-race integration bench lint fmt

## test: unit tests of the core module, with the race detector.
test: unit

## test-all: what CI runs: test, plus the tests of every contrib module with the race
## detector (contrib/argocdv2 builds argo-cd's whole dependency tree).
test-all: unit contrib-race

unit:
	$(GO) test -race -count=1 $(PKGS)

## contrib: the contrib modules' tests without the race detector, a quicker check when
## you change gitops/argocd.
contrib:
	@for m in $(dir $(CONTRIB)); do \
		echo "== $$m"; (cd $$m && $(GO) test -count=1 ./...) || exit 1; \
	done

contrib-race:
	@for m in $(dir $(CONTRIB)); do \
		echo "== $$m (race)"; (cd $$m && $(GO) test -race -count=1 ./...) || exit 1; \
	done

## integration: tests against real services (Prometheus, docker-registry) and tools (the kustomize CLI,
## built with go install); needs the apt packages and the Go module proxy or a warm module cache.
integration:
	$(GO) test -race -count=1 -tags integration -run Integration $(PKGS)

## bench: Go benchmarks plus the comparison scripts against the tools teams use today.
bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)
	@for s in bench/*.sh; do echo "== $$s"; bash "$$s" || exit 1; done

## lint: go vet and a gofmt check.
lint:
	$(GO) vet $(PKGS)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

fmt:
	gofmt -w $$(git ls-files '*.go')
