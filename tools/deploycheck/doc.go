// Package deploycheck holds the deployment checks of ClearSky, run by scripts/deploy-check: the
// Dockerfile's structure, docker-compose.yml loaded with compose-go, the Helm chart linted,
// rendered, decoded strictly against the Kubernetes API types, held to the platform's policy
// (probes, resources, security context, disruption budgets, autoscalers, network policies), and
// applied to a real kube-apiserver backed by etcd on loopback. Its tests are the checks; the
// package has no code of its own. It lives in the tools module so the root module's go.mod stays
// free of Kubernetes, Helm, etcd and compose-go.
package deploycheck
