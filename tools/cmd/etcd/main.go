// Command etcd is the etcd server (go.etcd.io/etcd/server/v3, the version in tools/go.mod),
// built from the Go module proxy so the deployment checks can run a real kube-apiserver
// on loopback without a downloaded binary.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
