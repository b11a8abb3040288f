// Package config holds routerd's configuration: one YAML file, parsed
// strictly, validated completely, and compared with the running
// configuration on reload.
//
// Load and Parse return either a complete Config, every default filled in,
// or an *Errors that lists every problem in the file with its file, line,
// column and key path ("routerd.yaml:14:7: static[2].via[0]: ..."), so an
// operator fixes everything in one pass. Unknown keys, duplicate keys,
// values of the wrong type and values that make no sense are all errors;
// nothing is silently ignored. Diff compares two Configs for SIGHUP: what
// changed per section, which static routes were added, removed or changed,
// and which changed settings need a restart. Marshal writes a Config back
// as YAML.
//
// In the flow of a route (DESIGN.md) the static section is a source: the
// daemon offers its routes to the RIB, and on reload offers the difference.
// The kernel, api, metrics and fib sections configure the consumers.
//
// The decoder walks the yaml.Node tree itself rather than unmarshalling
// into tagged structs: that is how every error keeps its line and column,
// how all errors are collected instead of the first, and how a rejected
// file never yields a half-filled Config.
//
// # Adding a section
//
// A top-level section is a Go type in its own file with its own decode
// function (see kernel.go for a simple one, static.go for a list):
//
//  1. Define the type, one field per key, each tagged with its YAML key
//     (`key:"hold-time"`); Diff walks these tags, so a new field is
//     reported by Diff without further code.
//  2. Write func decodeX(d *decoder, n *yaml.Node, c *Config). It is called
//     with a nil n when the key is absent, and must then set the defaults.
//     Check the mapping with d.mapping(n, "x", knownKeys), read values
//     with d.str, d.uint, d.boolean, d.enum, d.prefix, d.addr, and report
//     problems with d.errorf(node, path, ...); never stop at the first.
//  3. Add a field to Config tagged with the section's key, add the
//     section to the sections list in config.go after the sections it
//     depends on (static routes need tables and distances), and compare
//     it in Config.Equal.
//  4. Write it out in Marshal, add the keys that cannot change at run time
//     to restartRequired in diff.go, add test cases and fuzz seeds, and
//     document every key in docs/configuration.md.
package config
