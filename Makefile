# knetlab — build, test, regenerate rendered files, lint.
GO      ?= go
BIN     ?= bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/knetlab/knetlab/internal/cli.Version=$(VERSION)

.PHONY: all build gobgp test test-unit generate docs lint bench e2e clean

all: build

## build: the one knetlab binary (the CLI, the node agent and, run as knetlab-cni, the CNI plugin) into ./bin
build:
	@mkdir -p $(BIN)
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/knetlab ./cmd/knetlab

## gobgp: GoBGP's own CLI, at the release go.mod pins (the one the real lab's gobgp image builds),
## into ./bin: `knetlab exec calico-bgp gobgp -- bin/gobgp global rib` reads the netns lab's
## route reflector over its API, as `docker exec gobgp gobgp global rib` does in the real lab
gobgp:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/gobgp github.com/osrg/gobgp/v4/cmd/gobgp

## test: every test, `go test ./...`. As root this includes the tests that build labs from
## network namespaces (netns provider, dataplane, CNI plugin, agents, collectors, and the
## end-to-end runs of the CLI); without root those skip, each saying why. Installs the host
## tools they run (ip, bridge, ping, nft) and BIRD 2 (bird, birdcl: the calico-bgp lab's nodes run it)
## first, when missing and root.
test:
	@scripts/test-deps.sh
	$(GO) test -count=1 -timeout 60m ./...

## test-unit: `go test -short ./...`, every test that needs neither root nor a network namespace.
## The namespace tests skip under -short (testenv.RequireLab), so this creates no namespace and
## leaves the host's network alone even as root; internal/testenv's guard test fails when a
## test that creates namespaces does not go through RequireLab. To check a host:
## `sudo scripts/no-namespaces.sh` runs this and fails if a namespace was created or entered.
test-unit:
	$(GO) test -count=1 -short ./...

## e2e: the command line end to end on real netns labs (package e2e; root, installs host tools)
e2e:
	@scripts/test-deps.sh
	$(GO) test -count=1 -timeout 30m ./e2e/

## generate: refresh the checked-in topologies/ and configs/ from labs/*/lab.yaml
generate:
	$(GO) test ./internal/render -run TestGolden -update

## docs: rerun the commands the docs pages show on netns labs (root) and rewrite their outputs
## in place (e2e TestDocs -update; markers: docs/architecture.md, "Docs outputs"). Read the diff.
docs:
	@scripts/test-deps.sh
	$(GO) test -count=1 -run 'TestDocs$$' ./e2e/ -update

## lint: formatting and vet
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

## bench: the benchmarks whose figures go into docs/benchmarks.md
bench:
	$(GO) test -run '^$$' -bench . -benchtime 1x ./...

clean:
	rm -rf $(BIN)
