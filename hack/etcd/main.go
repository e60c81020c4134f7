// Command etcd is etcd built from go.etcd.io/etcd/server/v3 for optel's
// embedded control plane (Debian's etcd is too old). Its own module keeps
// etcd's dependencies out of the optel library.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
