//go:build tools

// Package tools pins the deployment tooling that scripts/deploy-check builds from this module:
// helm, kube-apiserver and (cmd/etcd) etcd. The build tag keeps this file out of every build;
// it exists so that go.mod and go.sum record these programs' dependencies.
package tools

import (
	_ "helm.sh/helm/v3/cmd/helm"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
)
