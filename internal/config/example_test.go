package config_test

import (
	"fmt"

	"github.com/routerd/routerd/internal/config"
)

func ExampleParse() {
	_, err := config.Parse("routerd.yaml", []byte(`
kernel:
  protocol: 3
  nexthop-objects: on
static:
  - prefix: 10.0.0.1/8
    via: [10.0.0.2]
  - prefix: 10.20.0.0/16
    via: [2001:db8::1]
  - prefix: 192.0.2.0/24
    type: blackhole
    vai: 192.0.2.1
`))
	fmt.Println(err)
	// Output:
	// routerd.yaml:3:13: kernel.protocol: protocol 3 is reserved by the kernel (0 unspec, 1 redirect, 2 kernel, 3 boot, 4 static); use 5..255
	// routerd.yaml:6:13: static[0].prefix: 10.0.0.1/8 has host bits set; did you mean 10.0.0.0/8?
	// routerd.yaml:9:11: static[1].via[0]: gateway 2001:db8::1 is IPv6 but prefix 10.20.0.0/16 is IPv4
	// routerd.yaml:12:5: static[2]: unknown key "vai"; did you mean "via"?
}
