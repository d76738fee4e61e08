# ClearSky. The two commands a newcomer needs: `make run` and `make test`.
GO ?= go
BIN ?= bin

.PHONY: run test build vet fuzz bench clean

## run: build and start the whole platform on the embedded default (http://localhost:8080)
run:
	@echo "make run: building the all-in-one into $(BIN)/clearsky (the first build takes a few minutes) ..."
	$(GO) build -o $(BIN)/clearsky ./services/allinone/cmd/clearsky
	./$(BIN)/clearsky

## test: every test, against a FerretDB it starts and the local Redis (see scripts/test)
test:
	./scripts/test

## build: every service binary into ./bin
build:
	$(GO) build -o $(BIN)/ ./services/*/cmd/...

vet:
	$(GO) vet ./...

## fuzz: run each fuzz target for FUZZTIME (default 30s)
FUZZTIME ?= 30s
fuzz:
	@for pkg in $$($(GO) list ./... ); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

## bench: the benchmarks behind docs/performance.md
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

clean:
	rm -rf $(BIN)

## stack: the deployed topology on this machine, every service its own process behind nginx, with
## Redis, FerretDB on PostgreSQL and Jaeger (scripts/stack); Ctrl-C stops everything
.PHONY: stack
stack:
	./scripts/stack

## deploy-check: the Dockerfile, docker-compose.yml and Helm chart checks, the chart applied to a
## kube-apiserver on loopback (builds helm, kube-apiserver and etcd once into ~/.cache/clearsky-tools)
.PHONY: deploy-check
deploy-check:
	./scripts/deploy-check
