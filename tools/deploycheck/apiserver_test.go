package deploycheck

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// cluster is a kube-apiserver with its etcd, on loopback, for one test.
type cluster struct {
	config   *rest.Config
	client   kubernetes.Interface
	dynamic  dynamic.Interface
	mapper   meta.RESTMapper
	warnings *warnings
}

// warnings collects the API server's warnings (PodSecurity's among them).
type warnings struct {
	mu   sync.Mutex
	list []string
}

func (w *warnings) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.list = append(w.list, text)
}

func (w *warnings) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.list
	w.list = nil
	return out
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startProcess runs a program with its output in dir/name.log and stops it (SIGTERM, then
// SIGKILL after 10 s) when the test ends. logTail returns the log's last lines.
func startProcess(t testing.TB, dir, name, bin string, args ...string) (logTail func() string) {
	t.Helper()
	logPath := filepath.Join(dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		f.Close()
	})
	return func() string {
		b, _ := os.ReadFile(logPath)
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) > 15 {
			lines = lines[len(lines)-15:]
		}
		return strings.Join(lines, "\n")
	}
}

// writePKI writes a CA, the API server's serving certificate for 127.0.0.1, a client certificate in
// system:masters and a service-account signing key into dir, and returns the client's TLS config.
func writePKI(t testing.TB, dir string) rest.TLSClientConfig {
	t.Helper()
	now := time.Now()
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	write := func(name, typ string, der []byte) []byte {
		b := pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
		return b
	}
	writeKey := func(name string, k any) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return write(name, "PRIVATE KEY", der)
	}
	caKey := newKey()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "deploycheck-ca"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caPEM := write("ca.crt", "CERTIFICATE", caDER)
	ca, _ := x509.ParseCertificate(caDER)
	issue := func(name string, tmpl *x509.Certificate) (certPEM, keyPEM []byte) {
		k := newKey()
		tmpl.NotBefore, tmpl.NotAfter = now.Add(-time.Hour), now.Add(24*time.Hour)
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return write(name+".crt", "CERTIFICATE", der), writeKey(name+".key", k)
	}
	issue("apiserver", &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "kube-apiserver"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
	})
	clientCert, clientKey := issue("client", &x509.Certificate{
		SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "deploycheck", Organization: []string{"system:masters"}},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	saKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	writeKey("sa.key", saKey)
	pub, err := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	write("sa.pub", "PUBLIC KEY", pub)
	return rest.TLSClientConfig{CAData: caPEM, CertData: clientCert, KeyData: clientKey}
}

// startCluster starts etcd and kube-apiserver on loopback ports and waits until the API server
// is ready.
func startCluster(t *testing.T) *cluster {
	t.Helper()
	etcdBin, apiBin := tool(t, "CLEARSKY_ETCD"), tool(t, "CLEARSKY_KUBE_APISERVER")
	dir := t.TempDir()
	tlsConfig := writePKI(t, dir)

	clientPort, peerPort := freePort(t), freePort(t)
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", clientPort)
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", peerPort)
	etcdLog := startProcess(t, dir, "etcd", etcdBin,
		"--name=deploycheck", "--data-dir="+filepath.Join(dir, "etcd"),
		"--listen-client-urls="+etcdURL, "--advertise-client-urls="+etcdURL,
		"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=deploycheck="+peerURL, "--unsafe-no-fsync", "--log-level=warn")
	waitFor(t, 30*time.Second, "etcd", etcdLog, func() bool {
		resp, err := http.Get(etcdURL + "/health")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})

	apiPort := freePort(t)
	apiLog := startProcess(t, dir, "kube-apiserver", apiBin,
		"--etcd-servers="+etcdURL,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", fmt.Sprintf("--secure-port=%d", apiPort),
		"--cert-dir="+dir,
		"--tls-cert-file="+filepath.Join(dir, "apiserver.crt"), "--tls-private-key-file="+filepath.Join(dir, "apiserver.key"),
		"--client-ca-file="+filepath.Join(dir, "ca.crt"),
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file="+filepath.Join(dir, "sa.pub"),
		"--service-account-signing-key-file="+filepath.Join(dir, "sa.key"),
		"--service-cluster-ip-range=10.96.0.0/16",
		"--endpoint-reconciler-type=none",
		"--enable-priority-and-fairness=false",
		"--v=0")

	w := &warnings{}
	cfg := &rest.Config{
		Host: fmt.Sprintf("https://127.0.0.1:%d", apiPort), TLSClientConfig: tlsConfig,
		WarningHandler: w, QPS: 100, Burst: 200, Timeout: 30 * time.Second,
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 120*time.Second, "kube-apiserver", apiLog, func() bool {
		body, err := client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(context.Background())
		return err == nil && strings.TrimSpace(string(body)) == "ok"
	})
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &cluster{config: cfg, client: client, dynamic: dyn, warnings: w,
		mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disc))}
}

func waitFor(t *testing.T, limit time.Duration, what string, logTail func() string, ready func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !ready() {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not become ready within %s; its log ends with:\n%s", what, limit, logTail())
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// createNamespace makes a namespace that enforces the restricted Pod Security Standard and warns
// about Deployments whose pods would break it.
func (c *cluster) createNamespace(t *testing.T, name string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
		"pod-security.kubernetes.io/enforce": "restricted",
		"pod-security.kubernetes.io/warn":    "restricted",
	}}}
	if _, err := c.client.CoreV1().Namespaces().Create(context.Background(), ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
}

// apply sends every object to the API server with server-side apply and strict field
// validation (dry run first when dryRun), and returns the errors and warnings.
func (c *cluster) apply(namespace string, objs []object, dryRun bool) (errs []error, warns []string) {
	c.warnings.take()
	for _, o := range objs {
		gvk := o.raw.GroupVersionKind()
		m, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: the API server does not serve %s: %w", o.id(), gvk, err))
			continue
		}
		var ri dynamic.ResourceInterface = c.dynamic.Resource(m.Resource)
		if m.Scope.Name() == meta.RESTScopeNameNamespace {
			ri = c.dynamic.Resource(m.Resource).Namespace(namespace)
		}
		opts := metav1.PatchOptions{FieldManager: "deploycheck", Force: new(true), FieldValidation: "Strict"}
		if dryRun {
			opts.DryRun = []string{metav1.DryRunAll}
		}
		if _, err := ri.Patch(context.Background(), o.raw.GetName(), types.ApplyPatchType, o.json, opts); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", o.id(), err))
		}
	}
	return errs, c.warnings.take()
}

var nsUnsafe = regexp.MustCompile(`[^a-z0-9-]+`)

// TestApplyToAPIServer applies the chart, rendered for every value set, to a real kube-apiserver:
// a server-side dry run, then for real, in a namespace enforcing the restricted Pod Security
// Standard; then checks that broken objects are refused.
func TestApplyToAPIServer(t *testing.T) {
	c := startCluster(t)
	root := repoRoot(t)
	sets := valueSets(t)
	names := make([]string, 0, len(sets))
	for n := range sets {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			ns := strings.Trim(nsUnsafe.ReplaceAllString("ci-"+strings.TrimSuffix(strings.TrimPrefix(name, "ci/"), ".yaml"), "-"), "-")
			c.createNamespace(t, ns)
			out, err := helm(t, append([]string{"template", releaseName, filepath.Join(root, chartDir), "--namespace", ns}, valuesArgs(sets[name], nil)...)...)
			if err != nil {
				t.Fatal(err)
			}
			objs, errs := decodeManifests(out)
			if len(errs) > 0 {
				t.Fatalf("the manifests do not decode (TestChart says more): %v", errs)
			}
			for _, dry := range []bool{true, false} {
				errs, warns := c.apply(ns, objs, dry)
				for _, err := range errs {
					t.Errorf("apply (dry run %v): %v", dry, err)
				}
				for _, w := range warns {
					t.Errorf("apply (dry run %v): the API server warns: %s", dry, w)
				}
			}
			// What was applied is there.
			for _, o := range objs {
				gvk := o.raw.GroupVersionKind()
				m, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
				if err != nil {
					continue
				}
				if _, err := c.dynamic.Resource(m.Resource).Namespace(ns).Get(context.Background(), o.raw.GetName(), metav1.GetOptions{}); err != nil {
					t.Errorf("%s was applied but cannot be read back: %v", o.id(), err)
				}
			}
			t.Logf("%s: %d objects applied to namespace %s", name, len(objs), ns)
		})
	}

	t.Run("refuses an unknown field", func(t *testing.T) {
		c.createNamespace(t, "ci-broken-field")
		objs := brokenDeployments(t, chartBreakages[0].file, chartBreakages[0].old, chartBreakages[0].new)
		errs, _ := c.apply("ci-broken-field", objs, true)
		if len(errs) != len(objs) {
			t.Fatalf("the API server refused %d of %d Deployments with an unknown field: %v", len(errs), len(objs), errs)
		}
		for _, err := range errs {
			if !strings.Contains(err.Error(), "restartPolicyy: field not declared in schema") {
				t.Errorf("got %v, want the API server to refuse the unknown field restartPolicyy", err)
			}
		}
	})
	t.Run("warns about a root container", func(t *testing.T) {
		c.createNamespace(t, "ci-broken-root")
		objs := brokenDeployments(t, "", "", "", "securityContext.runAsUser=0", "securityContext.runAsNonRoot=false", "podSecurityContext.runAsUser=0", "podSecurityContext.runAsNonRoot=false")
		_, warns := c.apply("ci-broken-root", objs, true)
		if !strings.Contains(strings.Join(warns, "\n"), "runAsNonRoot") {
			t.Fatalf("got warnings %q, want PodSecurity to flag runAsNonRoot", warns)
		}
	})
}

// brokenDeployments renders a broken copy of the chart (without the strict decoding that would
// stop it) and returns its Deployments, to send to the API server.
func brokenDeployments(t *testing.T, file, old, new string, sets ...string) []object {
	t.Helper()
	dir := brokenChart(t, file, old, new)
	out, err := helm(t, append([]string{"template", releaseName, dir}, valuesArgs("", sets)...)...)
	if err != nil {
		t.Fatal(err)
	}
	var objs []object
	for _, doc := range strings.Split(out, "\n---") {
		if !strings.Contains(doc, "kind: Deployment") {
			continue
		}
		o, err := looseObject(doc)
		if err != nil {
			t.Fatal(err)
		}
		if o.raw.GetKind() == "Deployment" {
			objs = append(objs, o)
		}
	}
	if len(objs) == 0 {
		t.Fatal("the broken chart rendered no Deployment")
	}
	return objs
}
