package deploycheck

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"
)

const (
	chartDir    = "charts/clearsky"
	releaseName = "clearsky"
)

// valueSets are the chart's default values and every charts/clearsky/ci/*.yaml, by name.
func valueSets(t testing.TB) map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot(t), chartDir, "ci", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no %s/ci/*.yaml: the chart's CI value files are missing", chartDir)
	}
	sets := map[string]string{"default": ""}
	for _, f := range files {
		sets["ci/"+filepath.Base(f)] = f
	}
	return sets
}

// helm runs the helm binary and returns its standard output, or an error with its output.
func helm(t testing.TB, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(tool(t, "CLEARSKY_HELM"), args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+t.TempDir(), "HELM_CONFIG_HOME="+t.TempDir(), "HELM_DATA_HOME="+t.TempDir())
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("helm %s: %w\n%s", strings.Join(args, " "), err, short(errb.String()+out.String()))
	}
	return out.String(), nil
}

// valuesArgs are helm's arguments for a values file ("" = defaults) and --set overrides.
func valuesArgs(values string, sets []string) []string {
	var args []string
	if values != "" {
		args = append(args, "-f", values)
	}
	for _, s := range sets {
		args = append(args, "--set", s)
	}
	return args
}

// object is one rendered manifest: its typed form (strictly decoded) and its unstructured form
// (what is applied to the API server).
type object struct {
	typed runtime.Object
	raw   *unstructured.Unstructured
	json  []byte
}

func (o object) id() string {
	return o.raw.GetKind() + "/" + o.raw.GetName()
}

// strict decodes Kubernetes objects and refuses unknown and duplicate fields.
var strict = serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict).UniversalDeserializer()

// decodeManifests splits helm's output into objects, each decoded strictly against the
// Kubernetes API types of client-go's scheme.
func decodeManifests(manifests string) ([]object, []error) {
	var (
		objs []object
		errs []error
	)
	for _, doc := range strings.Split(manifests, "\n---") {
		source := "?"
		if i := strings.Index(doc, "# Source: "); i >= 0 {
			source, _, _ = strings.Cut(doc[i+len("# Source: "):], "\n")
		}
		j, err := yaml.YAMLToJSON([]byte(doc))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: not YAML: %w", source, err))
			continue
		}
		if string(j) == "null" || string(j) == "{}" {
			continue
		}
		typed, _, err := strict.Decode(j, nil, nil)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", source, err))
			continue
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(j); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", source, err))
			continue
		}
		objs = append(objs, object{typed: typed, raw: u, json: j})
	}
	if len(objs) == 0 && len(errs) == 0 {
		errs = append(errs, errors.New("helm template rendered nothing"))
	}
	return objs, errs
}

// looseObject decodes one manifest without the strict typed decoding, for sending a broken
// object to the API server.
func looseObject(doc string) (object, error) {
	j, err := yaml.YAMLToJSON([]byte(doc))
	if err != nil {
		return object{}, err
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(j); err != nil {
		return object{}, err
	}
	return object{raw: u, json: j}, nil
}

// renderChart lints the chart in dir with helm lint --strict, renders it with helm template and
// decodes every object strictly.
func renderChart(t testing.TB, dir, values string, sets ...string) ([]object, []error) {
	t.Helper()
	va := valuesArgs(values, sets)
	if _, err := helm(t, append([]string{"lint", "--strict", dir}, va...)...); err != nil {
		return nil, []error{err}
	}
	out, err := helm(t, append([]string{"template", releaseName, dir, "--namespace", "clearsky"}, va...)...)
	if err != nil {
		return nil, []error{err}
	}
	return decodeManifests(out)
}

// checkPolicy holds rendered objects to the platform's policy.
func checkPolicy(objs []object) []error {
	var errs []error
	fail := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	var (
		deploys   []*appsv1.Deployment
		pdbs      []*policyv1.PodDisruptionBudget
		hpas      []*autoscalingv2.HorizontalPodAutoscaler
		netpols   []*networkingv1.NetworkPolicy
		svcs      []*corev1.Service
		ingresses []*networkingv1.Ingress
		configs   = map[string]*corev1.ConfigMap{}
	)
	for _, o := range objs {
		switch v := o.typed.(type) {
		case *appsv1.Deployment:
			deploys = append(deploys, v)
		case *policyv1.PodDisruptionBudget:
			pdbs = append(pdbs, v)
		case *autoscalingv2.HorizontalPodAutoscaler:
			hpas = append(hpas, v)
		case *networkingv1.NetworkPolicy:
			netpols = append(netpols, v)
		case *corev1.Service:
			svcs = append(svcs, v)
		case *networkingv1.Ingress:
			ingresses = append(ingresses, v)
		case *corev1.ConfigMap:
			configs[v.Name] = v
		case *corev1.Secret, *corev1.ServiceAccount:
		default:
			fail("%s: a kind the policy does not know; add its checks to tools/deploycheck", o.id())
		}
	}
	if len(deploys) == 0 {
		fail("no Deployment rendered")
	}
	component := map[string]*appsv1.Deployment{} // app.kubernetes.io/component -> Deployment
	for _, d := range deploys {
		component[d.Spec.Template.Labels["app.kubernetes.io/component"]] = d
	}

	for _, d := range deploys {
		id := "Deployment/" + d.Name
		pod := d.Spec.Template.Spec
		podLabels := labels.Set(d.Spec.Template.Labels)
		psc := pod.SecurityContext
		if psc == nil {
			psc = &corev1.PodSecurityContext{}
		}
		if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
			fail("%s: automountServiceAccountToken must be false (the services call no Kubernetes API)", id)
		}
		if pod.HostNetwork || pod.HostPID || pod.HostIPC {
			fail("%s: must not use the host's network, PID or IPC namespace", id)
		}
		containers := append(append([]corev1.Container{}, pod.InitContainers...), pod.Containers...)
		for _, c := range containers {
			cid := fmt.Sprintf("%s container %s", id, c.Name)
			probe := func(kind string, p *corev1.Probe, path string) {
				switch {
				case p == nil:
					fail("%s: no %s (want httpGet %s)", cid, kind, path)
				case p.HTTPGet == nil || p.HTTPGet.Path != path:
					fail("%s: %s must be httpGet %s", cid, kind, path)
				}
			}
			probe("startupProbe", c.StartupProbe, "/healthz")
			probe("livenessProbe", c.LivenessProbe, "/healthz")
			probe("readinessProbe", c.ReadinessProbe, "/readyz")
			for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				if _, ok := c.Resources.Requests[r]; !ok {
					fail("%s: no resources.requests.%s", cid, r)
				}
				if _, ok := c.Resources.Limits[r]; !ok {
					fail("%s: no resources.limits.%s", cid, r)
				}
			}
			sc := c.SecurityContext
			if sc == nil {
				sc = &corev1.SecurityContext{}
			}
			nonRoot := sc.RunAsNonRoot
			if nonRoot == nil {
				nonRoot = psc.RunAsNonRoot
			}
			user := sc.RunAsUser
			if user == nil {
				user = psc.RunAsUser
			}
			if nonRoot == nil || !*nonRoot || (user != nil && *user == 0) {
				fail("%s: runs as root: set runAsNonRoot: true and a non-zero runAsUser", cid)
			}
			if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
				fail("%s: allowPrivilegeEscalation must be false", cid)
			}
			if sc.Privileged != nil && *sc.Privileged {
				fail("%s: must not be privileged", cid)
			}
			if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
				fail("%s: readOnlyRootFilesystem must be true", cid)
			}
			if sc.Capabilities == nil || !containsCap(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) > 0 {
				fail("%s: capabilities must drop ALL and add none", cid)
			}
			seccomp := sc.SeccompProfile
			if seccomp == nil {
				seccomp = psc.SeccompProfile
			}
			if seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault {
				fail("%s: seccompProfile must be RuntimeDefault", cid)
			}
			for _, e := range c.Env {
				if secretName.MatchString(e.Name) && e.Value != "" {
					fail("%s: %s has a literal value: take it from a Secret (valueFrom.secretKeyRef)", cid, e.Name)
				}
			}
			for _, ef := range c.EnvFrom {
				if ef.ConfigMapRef != nil && configs[ef.ConfigMapRef.Name] == nil {
					fail("%s: envFrom ConfigMap %s is not rendered", cid, ef.ConfigMapRef.Name)
				}
			}
		}

		// A disruption budget and an autoscaler (or a stated reason for one fixed replica).
		if n := countMatching(pdbSelectors(pdbs), podLabels); n != 1 {
			fail("%s: %d PodDisruptionBudgets select its pods, want 1", id, n)
		}
		hpa := 0
		for _, h := range hpas {
			if h.Spec.ScaleTargetRef.Kind == "Deployment" && h.Spec.ScaleTargetRef.Name == d.Name {
				hpa++
				if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas < 2 || h.Spec.MaxReplicas < *h.Spec.MinReplicas {
					fail("HorizontalPodAutoscaler/%s: minReplicas must be at least 2 (one node lost keeps the service up) and at most maxReplicas", h.Name)
				}
			}
		}
		reason := d.Spec.Template.Annotations["clearsky.example.org/single-replica"]
		switch {
		case hpa > 1:
			fail("%s: %d HorizontalPodAutoscalers target it", id, hpa)
		case hpa == 0 && reason == "":
			fail("%s: no HorizontalPodAutoscaler: enable autoscaling, or state why it runs one replica (singleReplicaReason)", id)
		case hpa == 0 && (d.Spec.Replicas == nil || *d.Spec.Replicas != 1 || d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType):
			fail("%s: without an autoscaler (%s) it must run exactly 1 replica with strategy Recreate, so two never overlap", id, reason)
		case hpa == 1 && d.Spec.Replicas != nil:
			fail("%s: sets replicas although an autoscaler owns them", id)
		}
		// A NetworkPolicy that restricts both directions.
		var mine []*networkingv1.NetworkPolicy
		for _, np := range netpols {
			sel, err := metaSelector(np.Spec.PodSelector.MatchLabels)
			if err == nil && sel.Matches(podLabels) {
				mine = append(mine, np)
			}
		}
		if len(mine) != 1 {
			fail("%s: %d NetworkPolicies select its pods, want 1", id, len(mine))
			continue
		}
		errs = append(errs, checkNetworkPolicy(mine[0], d, component, configs)...)
	}

	for _, s := range svcs {
		if len(countDeployments(deploys, s.Spec.Selector)) != 1 {
			fail("Service/%s: its selector matches %d Deployments, want 1", s.Name, len(countDeployments(deploys, s.Spec.Selector)))
			continue
		}
		d := countDeployments(deploys, s.Spec.Selector)[0]
		for _, p := range s.Spec.Ports {
			if p.TargetPort.StrVal != "" && !hasPort(d, p.TargetPort.StrVal) {
				fail("Service/%s: targetPort %s is not a port of Deployment/%s", s.Name, p.TargetPort.StrVal, d.Name)
			}
		}
	}
	for _, h := range hpas {
		found := false
		for _, d := range deploys {
			found = found || (h.Spec.ScaleTargetRef.Name == d.Name && h.Spec.ScaleTargetRef.Kind == "Deployment")
		}
		if !found {
			fail("HorizontalPodAutoscaler/%s: targets %s/%s, which is not rendered", h.Name, h.Spec.ScaleTargetRef.Kind, h.Spec.ScaleTargetRef.Name)
		}
	}
	for _, ing := range ingresses {
		for _, r := range ing.Spec.Rules {
			if r.HTTP == nil {
				continue
			}
			for _, p := range r.HTTP.Paths {
				b := p.Backend.Service
				if b == nil || !hasService(svcs, b.Name, b.Port.Name) {
					fail("Ingress/%s: path %s goes to a Service or port that is not rendered", ing.Name, p.Path)
				}
			}
		}
	}
	return errs
}

// checkNetworkPolicy: only the checkpoint, the ingress controller (and named scrapers, through
// namespace selectors) reach a service's HTTP port; every pod of the release reaches the
// registry; terminals reach the OBD gateway port; egress goes only to DNS, MongoDB, Redis, the
// collector and the services whose URL the pod is given.
func checkNetworkPolicy(np *networkingv1.NetworkPolicy, d *appsv1.Deployment, component map[string]*appsv1.Deployment, configs map[string]*corev1.ConfigMap) []error {
	var errs []error
	id := "NetworkPolicy/" + np.Name
	fail := func(format string, a ...any) { errs = append(errs, fmt.Errorf(id+": "+format, a...)) }
	me := d.Spec.Template.Labels["app.kubernetes.io/component"]
	types := map[networkingv1.PolicyType]bool{}
	for _, t := range np.Spec.PolicyTypes {
		types[t] = true
	}
	if !types[networkingv1.PolicyTypeIngress] || !types[networkingv1.PolicyTypeEgress] {
		fail("policyTypes must be [Ingress, Egress]")
	}
	gatewayPort := int32(0)
	for _, c := range d.Spec.Template.Spec.Containers {
		for _, p := range c.Ports {
			if p.Name == "gateway" {
				gatewayPort = p.ContainerPort
			}
		}
	}
	for i, r := range np.Spec.Ingress {
		if len(r.From) == 0 || len(r.Ports) == 0 {
			fail("ingress rule %d admits every source or every port: name the peers and the port", i)
			continue
		}
		ports := rulePorts(r.Ports)
		for _, peer := range r.From {
			switch {
			case peer.IPBlock != nil:
				if gatewayPort == 0 || len(ports) != 1 || ports[0] != gatewayPort {
					fail("ingress rule %d admits addresses (ipBlock %s) to ports %v: only the OBD gateway port is open to the outside", i, peer.IPBlock.CIDR, ports)
				}
			case peer.NamespaceSelector != nil:
				// The ingress controller or a metrics scraper, in their own namespaces.
				if len(ports) != 1 || ports[0] != 8080 {
					fail("ingress rule %d admits other namespaces to ports %v: only the HTTP port 8080", i, ports)
				}
			case peer.PodSelector != nil:
				from := peer.PodSelector.MatchLabels["app.kubernetes.io/component"]
				switch {
				case from == "checkpoint" && me != "checkpoint":
				case from == "" && (me == "registry" || me == "accounts"):
					// Every service looks vehicles up in the registry, and reads the accounts
					// service's JWKS to verify access tokens.
				case from != "" && calls(configs, component, from, me):
					// A service configured to call this one (its CLEARSKY_<ME>_URL).
				default:
					who := from
					if who == "" {
						who = "every pod of the release"
					}
					fail("ingress rule %d admits %s: only the checkpoint and the ingress reach the services", i, who)
				}
			}
		}
	}
	// Egress: what the pod's configuration points it at, nothing else.
	urls := map[string]bool{}
	for _, cm := range configs {
		if cm.Labels["app.kubernetes.io/component"] == me || strings.HasSuffix(cm.Name, "-common") {
			for k, v := range cm.Data {
				if !strings.HasSuffix(k, "_URL") {
					continue
				}
				u, err := url.Parse(v)
				if err != nil {
					continue
				}
				host, _, _ := strings.Cut(u.Hostname(), ".") // a Service name, maybe with .namespace.svc
				for comp, dep := range component {
					if host == dep.Name {
						urls[comp] = true
					}
				}
			}
		}
	}
	// MongoDB and Redis only for a pod given their URIs.
	uses := map[string]bool{}
	for _, c := range d.Spec.Template.Spec.Containers {
		for _, e := range c.Env {
			uses[e.Name] = true
		}
	}
	allowed := map[int32]string{53: "", 4318: "", 27017: "MONGODB_URI", 6379: "REDIS_URL", 26379: "REDIS_URL"}
	reach := map[int32]bool{}
	for i, r := range np.Spec.Egress {
		if len(r.Ports) == 0 {
			fail("egress rule %d allows every port: name them", i)
			continue
		}
		ports := rulePorts(r.Ports)
		for _, p := range ports {
			reach[p] = true
			env, ok := allowed[p]
			switch {
			case ok && env != "" && !uses[env]:
				fail("egress rule %d allows port %d, but the pod is not given %s: it does not use that backend", i, p, env)
			case ok:
			case (p == 80 || p == 443) && me == "notify":
				// Webhook receivers: public addresses only, never the cluster's or private ones.
				if len(r.To) == 0 {
					fail("egress rule %d allows port %d anywhere: name the webhook peers, without private networks", i, p)
				}
				for _, peer := range r.To {
					if peer.IPBlock == nil || !exceptsPrivate(peer.IPBlock.Except) {
						fail("egress rule %d lets the webhooks reach %v: an ipBlock that excepts 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 169.254.0.0/16 and 127.0.0.0/8", i, peer)
					}
				}
			case p == 8080:
				if len(r.To) == 0 {
					fail("egress rule %d allows port 8080 anywhere: name the service", i)
				}
				for _, peer := range r.To {
					to := ""
					if peer.PodSelector != nil {
						to = peer.PodSelector.MatchLabels["app.kubernetes.io/component"]
					}
					if to == "" || !urls[to] {
						fail("egress rule %d lets %s call %q, which it is not configured to call (no CLEARSKY_*_URL for it)", i, me, to)
					}
				}
			default:
				fail("egress rule %d allows port %d: the services reach only DNS, MongoDB, Redis, the collector and each other on 8080", i, p)
			}
		}
	}
	for _, p := range []struct {
		port int32
		what string
		env  string
	}{{53, "DNS", ""}, {27017, "MongoDB", "MONGODB_URI"}, {6379, "Redis", "REDIS_URL"}, {4318, "the OpenTelemetry collector", ""}} {
		if !reach[p.port] && (p.env == "" || uses[p.env]) {
			fail("egress does not reach %s (port %d)", p.what, p.port)
		}
	}
	for comp := range urls {
		if comp == me {
			continue
		}
		found := false
		for _, r := range np.Spec.Egress {
			for _, peer := range r.To {
				found = found || (peer.PodSelector != nil && peer.PodSelector.MatchLabels["app.kubernetes.io/component"] == comp)
			}
		}
		if !found {
			fail("%s is configured to call %s, but its egress does not allow it", me, comp)
		}
	}
	return errs
}

func rulePorts(ps []networkingv1.NetworkPolicyPort) []int32 {
	var out []int32
	for _, p := range ps {
		if p.Port != nil {
			out = append(out, p.Port.IntVal)
		} else {
			out = append(out, -1) // every port
		}
	}
	return out
}

func containsCap(caps []corev1.Capability, c corev1.Capability) bool {
	for _, x := range caps {
		if x == c {
			return true
		}
	}
	return false
}

func metaSelector(m map[string]string) (labels.Selector, error) {
	if len(m) == 0 {
		return labels.Everything(), nil
	}
	return labels.SelectorFromSet(m), nil
}

func pdbSelectors(pdbs []*policyv1.PodDisruptionBudget) []map[string]string {
	var out []map[string]string
	for _, p := range pdbs {
		if p.Spec.Selector != nil {
			out = append(out, p.Spec.Selector.MatchLabels)
		}
	}
	return out
}

func countMatching(selectors []map[string]string, l labels.Set) int {
	n := 0
	for _, s := range selectors {
		if len(s) > 0 && labels.SelectorFromSet(s).Matches(l) {
			n++
		}
	}
	return n
}

func countDeployments(deploys []*appsv1.Deployment, sel map[string]string) []*appsv1.Deployment {
	var out []*appsv1.Deployment
	for _, d := range deploys {
		if len(sel) > 0 && labels.SelectorFromSet(sel).Matches(labels.Set(d.Spec.Template.Labels)) {
			out = append(out, d)
		}
	}
	return out
}

func hasPort(d *appsv1.Deployment, name string) bool {
	for _, c := range d.Spec.Template.Spec.Containers {
		for _, p := range c.Ports {
			if p.Name == name {
				return true
			}
		}
	}
	return false
}

func hasService(svcs []*corev1.Service, name, port string) bool {
	for _, s := range svcs {
		if s.Name != name {
			continue
		}
		for _, p := range s.Spec.Ports {
			if p.Name == port {
				return true
			}
		}
	}
	return false
}

// TestChart lints, renders, decodes and checks the chart for its default values and every
// charts/clearsky/ci/*.yaml, and checks that every service is deployed.
func TestChart(t *testing.T) {
	dir := filepath.Join(repoRoot(t), chartDir)
	want := deployedServices(t)
	for name, values := range valueSets(t) {
		t.Run(name, func(t *testing.T) {
			objs, errs := renderChart(t, dir, values)
			for _, err := range errs {
				t.Error(err)
			}
			for _, err := range checkPolicy(objs) {
				t.Error(err)
			}
			if name != "default" {
				return
			}
			// With the default values every service runs.
			got := map[string]bool{}
			for _, o := range objs {
				if d, ok := o.typed.(*appsv1.Deployment); ok {
					got[d.Spec.Template.Labels["app.kubernetes.io/component"]] = true
				}
			}
			for _, s := range want {
				if !got[s] {
					t.Errorf("default values: no Deployment for %s", s)
				}
			}
		})
	}
}

// brokenChart copies the chart into a temporary folder and replaces old with new in file.
func brokenChart(t *testing.T, file, old, new string) string {
	t.Helper()
	src := filepath.Join(repoRoot(t), chartDir)
	dst := filepath.Join(t.TempDir(), "clearsky")
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	if file == "" {
		return dst
	}
	p := filepath.Join(dst, file)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s no longer contains %q: update this test", file, old)
	}
	if err := os.WriteFile(p, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
}

// chartBreakages are deliberate faults, each of which the checks must catch.
var chartBreakages = []struct {
	name, file, old, new string
	sets                 []string
	want                 string
}{
	{name: "unknown field", file: "templates/deployment.yaml",
		old:  "          imagePullPolicy: {{ $root.Values.image.pullPolicy }}\n",
		new:  "          imagePullPolicy: {{ $root.Values.image.pullPolicy }}\n          restartPolicyy: Always\n",
		want: `unknown field "spec.template.spec.containers[0].restartPolicyy"`},
	{name: "missing readiness probe", file: "templates/deployment.yaml",
		old:  "          readinessProbe:\n            httpGet:\n              path: /readyz\n              port: http\n            {{- toYaml $root.Values.probes.readiness | nindent 12 }}\n",
		want: "no readinessProbe"},
	{name: "liveness on the wrong path", file: "templates/deployment.yaml",
		old: "          livenessProbe:\n            httpGet:\n              path: /healthz", new: "          livenessProbe:\n            httpGet:\n              path: /readyz",
		want: "livenessProbe must be httpGet /healthz"},
	{name: "root container", sets: []string{"securityContext.runAsUser=0", "securityContext.runAsNonRoot=false"},
		want: "runs as root"},
	{name: "privilege escalation", sets: []string{"securityContext.allowPrivilegeEscalation=true"},
		want: "allowPrivilegeEscalation must be false"},
	{name: "writable root", sets: []string{"securityContext.readOnlyRootFilesystem=false"},
		want: "readOnlyRootFilesystem must be true"},
	{name: "no seccomp", sets: []string{"securityContext.seccompProfile.type=Unconfined", "podSecurityContext.seccompProfile.type=Unconfined"},
		want: "seccompProfile must be RuntimeDefault"},
	{name: "no resources", sets: []string{"serviceDefaults.resources=null", "services.obd.resources=null"},
		want: "no resources.limits.memory"},
	{name: "no autoscaler and no reason", sets: []string{"services.muck.autoscaling.enabled=false"},
		want: "say why in services.muck.singleReplicaReason"},
	{name: "no disruption budget", file: "templates/pdb.yaml", old: `{{- range $name := include "clearsky.enabled" . | fromYamlArray }}`, new: `{{- range $name := list }}`,
		want: "0 PodDisruptionBudgets"},
	{name: "open network policy", file: "templates/networkpolicy.yaml", old: "  ingress:\n", new: "  ingress:\n    - {}\n",
		want: "admits every source"},
	{name: "service reaches service", file: "templates/networkpolicy.yaml",
		old: `{{- if and (ne $name "checkpoint") (has "checkpoint" $enabled) }}`, new: `{{- if true }}`,
		want: "only the checkpoint and the ingress reach the services"},
	{name: "no egress to redis", sets: []string{"networkPolicy.redis.ports={6380}"},
		want: "egress does not reach Redis"},
	{name: "secret in a literal", file: "templates/deployment.yaml", old: "          env:\n", new: "          env:\n            - name: CLEARSKY_JWT_SECRET\n              value: not-so-secret-not-so-secret-not-so\n",
		want: "has a literal value"},
}

// TestChartRejects renders deliberately broken copies of the chart: each must fail the checks.
func TestChartRejects(t *testing.T) {
	for _, tc := range chartBreakages {
		t.Run(tc.name, func(t *testing.T) {
			dir := brokenChart(t, tc.file, tc.old, tc.new)
			objs, errs := renderChart(t, dir, "", tc.sets...)
			errs = append(errs, checkPolicy(objs)...)
			var msgs []string
			for _, err := range errs {
				if strings.Contains(err.Error(), tc.want) {
					return
				}
				msgs = append(msgs, err.Error())
			}
			t.Errorf("the checks did not catch it: want an error containing %q, got:\n%s", tc.want, short(strings.Join(msgs, "\n")))
		})
	}
}

// TestChartReadme: every value of values.yaml is described in the chart's README.
func TestChartReadme(t *testing.T) {
	readme := readFile(t, chartDir+"/README.md")
	var keys []string
	flattenValues("", chartValues(t), &keys)
	sort.Strings(keys)
	for _, k := range keys {
		if !strings.Contains(readme, "`"+k+"`") {
			t.Errorf("%s/README.md does not describe the value `%s`", chartDir, k)
		}
	}
}

// freeForm values are maps whose keys are the user's (variables, labels, Kubernetes fields):
// the README describes the map, not its keys.
var freeForm = map[string]bool{"env": true, "extraEnv": true, "resources": true, "annotations": true, "podAnnotations": true,
	"nodeSelector": true, "affinity": true, "seccompProfile": true, "capabilities": true}

func flattenValues(prefix string, v map[string]any, out *[]string) {
	for k, val := range v {
		key := k
		if prefix == "services" {
			key = "<name>"
		}
		path := key
		if prefix != "" {
			path = prefix + "." + key
		}
		m, isMap := val.(map[string]any)
		if !isMap || len(m) == 0 || freeForm[k] {
			if !contains(*out, path) {
				*out = append(*out, path)
			}
			continue
		}
		flattenValues(path, m, out)
	}
}

// calls reports whether component from is configured to call component to: a *_URL of its
// configuration names to's Service.
func calls(configs map[string]*corev1.ConfigMap, component map[string]*appsv1.Deployment, from, to string) bool {
	dep, ok := component[to]
	if !ok {
		return false
	}
	for _, cm := range configs {
		if cm.Labels["app.kubernetes.io/component"] != from {
			continue
		}
		for k, v := range cm.Data {
			if u, err := url.Parse(v); err == nil && strings.HasSuffix(k, "_URL") {
				if host, _, _ := strings.Cut(u.Hostname(), "."); host == dep.Name {
					return true
				}
			}
		}
	}
	return false
}

// exceptsPrivate reports whether an ipBlock's exceptions leave out the private, link-local and
// loopback networks.
func exceptsPrivate(except []string) bool {
	for _, n := range []string{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "127.0.0.0/8"} {
		if !slices.Contains(except, n) {
			return false
		}
	}
	return true
}
