#!/bin/sh
# Regenerates the Go code of the operator API from api/routerd/v1/*.proto.
# The generated files are committed, so building routerd needs no protoc;
# run this after editing a .proto file. Wire it into a Makefile as:
#
#   proto:
#   	sh api/generate.sh
#
# Needs protoc (Debian: protobuf-compiler) and the Go plugins:
#   go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
#   go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@latest
set -eu
cd "$(dirname "$0")/.."
PATH="$(go env GOPATH)/bin:$PATH"
export PATH
protoc -I api \
	--go_out=api --go_opt=paths=source_relative \
	--go-grpc_out=api --go-grpc_opt=paths=source_relative \
	api/routerd/v1/routerd.proto
gofmt -l api/routerd/v1 >/dev/null
