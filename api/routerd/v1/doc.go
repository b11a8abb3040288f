// Package routerdv1 is the generated Go code of routerd's operator API
// (routerd.proto in this directory): the Routerd gRPC service that routerctl
// and other clients call over the daemon's Unix socket. Regenerate it with
// api/generate.sh after editing the .proto file.
package routerdv1
