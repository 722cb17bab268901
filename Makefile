# Smallpot — build, test, lint, fuzz, bench.
GO      ?= go
PKGS    := ./...
FUZZTIME ?= 20s

.PHONY: all build test lint vet fmt-check cross fuzz bench fuzzy-testdata clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/smallpot ./cmd/smallpot

# The whole test suite: formatting, vet, the cross-builds CI checks, and
# every test with the race detector.
test: fmt-check vet cross
	$(GO) test -race -count=1 -timeout 25m $(PKGS)

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

lint: fmt-check vet

cross:
	CGO_ENABLED=0 GOOS=windows GOARCH=amd64 $(GO) build -o /dev/null ./cmd/smallpot
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -o /dev/null ./cmd/smallpot
	CGO_ENABLED=0 $(GO) build -o /dev/null ./cmd/smallpot

# Runs each fuzz test for FUZZTIME.
fuzz:
	@for pkg in $$($(GO) list $(PKGS)); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)
	$(GO) run ./bench -out docs/performance.md

# Regenerates the ssdeep/TLSH reference hashes with Debian's ssdeep and tlsh
# (apt-get install ssdeep tlsh-tools).
fuzzy-testdata:
	scripts/gen-fuzzy-testdata.sh

clean:
	rm -rf bin
