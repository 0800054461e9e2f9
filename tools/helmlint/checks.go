package main

import (
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Decoding proves each object is well formed on its own. These checks
// look at what the API server cannot catch at all, or catches only once
// the release is half applied: references between the chart's objects
// (a Service selecting no pods, a probe naming a port that does not
// exist, an HPA aimed at nothing), the rules the chart promises (non-root,
// read-only root, resources, a grace period longer than the drain), and
// the names and labels the API server would refuse.

// workload is anything that makes pods.
type workload struct {
	ref      string
	selector *metav1.LabelSelector // nil for a Job: it makes its own
	pod      *corev1.PodTemplateSpec
	// replicasSet says a Deployment sets spec.replicas, which an HPA
	// aimed at it would fight on every upgrade.
	replicasSet bool
}

type index struct {
	configMaps  map[string]*corev1.ConfigMap
	secrets     map[string]*corev1.Secret
	services    map[string]*corev1.Service
	deployments map[string]*workload
	workloads   []*workload
}

func checkObjects(objs []object, rep *Report) {
	ix := &index{
		configMaps:  map[string]*corev1.ConfigMap{},
		secrets:     map[string]*corev1.Secret{},
		services:    map[string]*corev1.Service{},
		deployments: map[string]*workload{},
	}
	seen := map[string]string{}
	for _, o := range objs {
		key := o.gvk.GroupKind().String() + "/" + o.name
		if prev, dup := seen[key]; dup {
			rep.addf("%s: %s is rendered twice (also in %s)", o.file, o.ref(), prev)
		}
		seen[key] = o.file
		checkMeta(o, rep)
		switch t := o.obj.(type) {
		case *corev1.ConfigMap:
			ix.configMaps[t.Name] = t
		case *corev1.Secret:
			ix.secrets[t.Name] = t
		case *corev1.Service:
			ix.services[t.Name] = t
		case *appsv1.Deployment:
			w := &workload{ref: o.ref(), selector: t.Spec.Selector, pod: &t.Spec.Template, replicasSet: t.Spec.Replicas != nil}
			ix.deployments[t.Name] = w
			ix.workloads = append(ix.workloads, w)
		case *appsv1.StatefulSet:
			ix.workloads = append(ix.workloads, &workload{ref: o.ref(), selector: t.Spec.Selector, pod: &t.Spec.Template})
		case *appsv1.DaemonSet:
			ix.workloads = append(ix.workloads, &workload{ref: o.ref(), selector: t.Spec.Selector, pod: &t.Spec.Template})
		case *batchv1.Job:
			ix.workloads = append(ix.workloads, &workload{ref: o.ref(), pod: &t.Spec.Template})
		}
	}
	for _, w := range ix.workloads {
		checkWorkload(w, ix, rep)
	}
	checkSelectorOverlap(ix, rep)
	for _, o := range objs {
		switch t := o.obj.(type) {
		case *corev1.Service:
			checkService(o, t, ix, rep)
		case *autoscalingv2.HorizontalPodAutoscaler:
			checkHPA(o, t, ix, rep)
		case *policyv1.PodDisruptionBudget:
			checkPDB(o, t, ix, rep)
		case *networkingv1.Ingress:
			checkIngress(o, t, ix, rep)
		case *batchv1.Job:
			checkJob(o, t, rep)
		case *ServiceMonitor:
			checkServiceMonitor(o, t, ix, rep)
		}
	}
}

// checkMeta applies the API server's rules for names, labels and
// annotations. Helm sets the namespace; a template that sets one puts the
// object outside the release's namespace.
func checkMeta(o object, rep *Report) {
	var meta *metav1.ObjectMeta
	switch t := o.obj.(type) {
	case metav1.Object:
		meta = &metav1.ObjectMeta{Name: t.GetName(), Namespace: t.GetNamespace(), Labels: t.GetLabels(), Annotations: t.GetAnnotations()}
	case *ServiceMonitor:
		meta = &t.Metadata
	default:
		return
	}
	at := o.file + ": " + o.ref()
	var msgs []string
	switch o.gvk.Kind {
	case "Service":
		// Service names become DNS labels.
		msgs = validation.IsDNS1035Label(meta.Name)
	case "Job", "Deployment", "StatefulSet", "DaemonSet":
		// Their names end up in pod labels and host names.
		msgs = validation.IsDNS1123Label(meta.Name)
	default:
		msgs = validation.IsDNS1123Subdomain(meta.Name)
	}
	for _, m := range msgs {
		rep.addf("%s: metadata.name: %s", at, m)
	}
	if meta.Namespace != "" {
		rep.addf("%s: sets metadata.namespace; leave it to the release", at)
	}
	for _, e := range metavalidation.ValidateLabels(meta.Labels, field.NewPath("metadata", "labels")) {
		rep.addf("%s: %v", at, e)
	}
	for _, e := range apivalidation.ValidateAnnotations(meta.Annotations, field.NewPath("metadata", "annotations")) {
		rep.addf("%s: %v", at, e)
	}
}

func checkWorkload(w *workload, ix *index, rep *Report) {
	pod := w.pod
	if w.selector != nil {
		sel, err := metav1.LabelSelectorAsSelector(w.selector)
		switch {
		case err != nil:
			rep.addf("%s: spec.selector: %v", w.ref, err)
		case sel.Empty():
			rep.addf("%s: spec.selector is empty", w.ref)
		case !sel.Matches(labels.Set(pod.Labels)):
			rep.addf("%s: spec.selector %s does not match the pod template's labels", w.ref, sel)
		}
	}
	for _, e := range metavalidation.ValidateLabels(pod.Labels, field.NewPath("spec", "template", "metadata", "labels")) {
		rep.addf("%s: %v", w.ref, e)
	}
	spec := &pod.Spec
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		rep.addf("%s: mounts a service account token; the pods never call the Kubernetes API", w.ref)
	}
	checkPodSecurity(w.ref, spec, rep)

	volumes := map[string]*corev1.Volume{}
	for i := range spec.Volumes {
		v := &spec.Volumes[i]
		if _, dup := volumes[v.Name]; dup {
			rep.addf("%s: volume %q is declared twice", w.ref, v.Name)
		}
		volumes[v.Name] = v
		checkVolumeSource(w.ref, v, ix, rep)
	}
	used := map[string]bool{}
	names := map[string]bool{}
	for i := range spec.Containers {
		c := &spec.Containers[i]
		at := fmt.Sprintf("%s container %s", w.ref, c.Name)
		if names[c.Name] {
			rep.addf("%s: container name used twice", at)
		}
		names[c.Name] = true
		checkImage(at, c.Image, rep)
		checkResources(at, c.Resources, rep)
		checkProbes(at, c, rep)
		mounts := map[string]string{}
		for _, m := range c.VolumeMounts {
			if volumes[m.Name] == nil {
				rep.addf("%s: volumeMount %q names no volume of the pod", at, m.Name)
			}
			used[m.Name] = true
			if prev, dup := mounts[m.MountPath]; dup {
				rep.addf("%s: volumes %q and %q are both mounted at %s", at, prev, m.Name, m.MountPath)
			}
			mounts[m.MountPath] = m.Name
		}
		checkEnv(at, c, ix, rep)
		checkSecretFiles(at, c, volumes, rep)
		checkGracePeriod(at, spec, c, ix, rep)
	}
	for name := range volumes {
		if !used[name] {
			rep.addf("%s: volume %q is mounted by no container", w.ref, name)
		}
	}
}

// checkPodSecurity enforces the chart's promise for every container:
// non-root, no privilege escalation, no capabilities, a read-only root
// filesystem and a seccomp profile.
func checkPodSecurity(ref string, spec *corev1.PodSpec, rep *Report) {
	psc := spec.SecurityContext
	if psc == nil {
		psc = &corev1.PodSecurityContext{}
	}
	for _, c := range append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...) {
		at := fmt.Sprintf("%s container %s", ref, c.Name)
		sc := c.SecurityContext
		if sc == nil {
			sc = &corev1.SecurityContext{}
		}
		nonRoot := sc.RunAsNonRoot
		if nonRoot == nil {
			nonRoot = psc.RunAsNonRoot
		}
		if nonRoot == nil || !*nonRoot {
			rep.addf("%s: runAsNonRoot is not true", at)
		}
		user := sc.RunAsUser
		if user == nil {
			user = psc.RunAsUser
		}
		if user == nil {
			// The images have no user database: the kubelet can only
			// verify runAsNonRoot against a numeric user.
			rep.addf("%s: no numeric runAsUser", at)
		} else if *user == 0 {
			rep.addf("%s: runAsUser is 0 (root)", at)
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			rep.addf("%s: allowPrivilegeEscalation is not false", at)
		}
		if sc.Privileged != nil && *sc.Privileged {
			rep.addf("%s: privileged", at)
		}
		if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			rep.addf("%s: readOnlyRootFilesystem is not true", at)
		}
		dropsAll := false
		if sc.Capabilities != nil {
			for _, d := range sc.Capabilities.Drop {
				dropsAll = dropsAll || d == "ALL"
			}
			if len(sc.Capabilities.Add) > 0 {
				rep.addf("%s: adds capabilities %v", at, sc.Capabilities.Add)
			}
		}
		if !dropsAll {
			rep.addf("%s: does not drop ALL capabilities", at)
		}
		sp := sc.SeccompProfile
		if sp == nil {
			sp = psc.SeccompProfile
		}
		if sp == nil || (sp.Type != corev1.SeccompProfileTypeRuntimeDefault && sp.Type != corev1.SeccompProfileTypeLocalhost) {
			rep.addf("%s: no RuntimeDefault (or Localhost) seccomp profile", at)
		}
	}
}

func checkImage(at, image string, rep *Report) {
	switch {
	case image == "":
		rep.addf("%s: no image", at)
	case strings.HasSuffix(image, ":") || strings.HasSuffix(image, "@"):
		rep.addf("%s: image %q has an empty tag or digest", at, image)
	case strings.HasSuffix(image, ":latest"):
		rep.addf("%s: image %q: pin a version, latest changes under a running release", at, image)
	case !strings.Contains(path.Base(image), ":") && !strings.Contains(image, "@"):
		rep.addf("%s: image %q has no tag", at, image)
	}
}

// checkResources wants a CPU and memory request (the scheduler and the CPU
// autoscaler work from them) and a memory limit (a leak is then one
// restarted pod, not a node under memory pressure).
func checkResources(at string, r corev1.ResourceRequirements, rep *Report) {
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if _, ok := r.Requests[name]; !ok {
			rep.addf("%s: no %s request", at, name)
		}
	}
	if _, ok := r.Limits[corev1.ResourceMemory]; !ok {
		rep.addf("%s: no memory limit", at)
	}
	for name, lim := range r.Limits {
		if req, ok := r.Requests[name]; ok && req.Cmp(lim) > 0 {
			rep.addf("%s: %s request %s is above its limit %s", at, name, req.String(), lim.String())
		}
	}
}

func checkProbes(at string, c *corev1.Container, rep *Report) {
	for _, p := range []struct {
		name  string
		probe *corev1.Probe
	}{{"livenessProbe", c.LivenessProbe}, {"readinessProbe", c.ReadinessProbe}, {"startupProbe", c.StartupProbe}} {
		if p.probe == nil {
			continue
		}
		var port *intstr.IntOrString
		switch {
		case p.probe.HTTPGet != nil:
			port = &p.probe.HTTPGet.Port
			if !strings.HasPrefix(p.probe.HTTPGet.Path, "/") {
				rep.addf("%s: %s path %q does not start with /", at, p.name, p.probe.HTTPGet.Path)
			}
		case p.probe.TCPSocket != nil:
			port = &p.probe.TCPSocket.Port
		case p.probe.GRPC != nil:
			continue
		case p.probe.Exec != nil:
			continue
		default:
			rep.addf("%s: %s has no handler", at, p.name)
			continue
		}
		if !containerHasPort(c, *port) {
			rep.addf("%s: %s port %s is not a port of the container", at, p.name, port.String())
		}
		if p.probe.TimeoutSeconds > 0 && p.probe.PeriodSeconds > 0 && p.probe.TimeoutSeconds > p.probe.PeriodSeconds {
			rep.addf("%s: %s timeoutSeconds %d is longer than its periodSeconds %d", at, p.name, p.probe.TimeoutSeconds, p.probe.PeriodSeconds)
		}
	}
	if c.LivenessProbe == nil || c.ReadinessProbe == nil {
		if len(c.Ports) > 0 {
			rep.addf("%s: serves ports but lacks a liveness or readiness probe", at)
		}
	}
}

func containerHasPort(c *corev1.Container, port intstr.IntOrString) bool {
	for _, p := range c.Ports {
		if (port.Type == intstr.String && p.Name == port.StrVal) || (port.Type == intstr.Int && p.ContainerPort == port.IntVal) {
			return true
		}
	}
	return false
}

// checkVolumeSource checks ConfigMap and Secret volumes of the chart's own
// objects: every item's key must be there, or the pod never starts.
func checkVolumeSource(ref string, v *corev1.Volume, ix *index, rep *Report) {
	switch {
	case v.Secret != nil:
		if s, ok := ix.secrets[v.Secret.SecretName]; ok && (v.Secret.Optional == nil || !*v.Secret.Optional) {
			for _, it := range v.Secret.Items {
				if _, ok := secretKeys(s)[it.Key]; !ok {
					rep.addf("%s: volume %q: Secret %s has no key %q", ref, v.Name, s.Name, it.Key)
				}
			}
		}
	case v.ConfigMap != nil:
		if cm, ok := ix.configMaps[v.ConfigMap.Name]; ok && (v.ConfigMap.Optional == nil || !*v.ConfigMap.Optional) {
			for _, it := range v.ConfigMap.Items {
				if !configMapHas(cm, it.Key) {
					rep.addf("%s: volume %q: ConfigMap %s has no key %q", ref, v.Name, cm.Name, it.Key)
				}
			}
		}
	}
}

func secretKeys(s *corev1.Secret) map[string]bool {
	keys := map[string]bool{}
	for k := range s.Data {
		keys[k] = true
	}
	for k := range s.StringData {
		keys[k] = true
	}
	return keys
}

func configMapHas(cm *corev1.ConfigMap, key string) bool {
	_, a := cm.Data[key]
	_, b := cm.BinaryData[key]
	return a || b
}

// checkEnv follows references to the chart's own ConfigMaps and Secrets
// (one it does not render, an existing Secret say, cannot be checked).
func checkEnv(at string, c *corev1.Container, ix *index, rep *Report) {
	seen := map[string]bool{}
	for _, e := range c.Env {
		if seen[e.Name] {
			rep.addf("%s: env %s is set twice", at, e.Name)
		}
		seen[e.Name] = true
		if e.ValueFrom == nil {
			continue
		}
		if r := e.ValueFrom.SecretKeyRef; r != nil && (r.Optional == nil || !*r.Optional) {
			if s, ok := ix.secrets[r.Name]; ok && !secretKeys(s)[r.Key] {
				rep.addf("%s: env %s: Secret %s has no key %q", at, e.Name, r.Name, r.Key)
			}
		}
		if r := e.ValueFrom.ConfigMapKeyRef; r != nil && (r.Optional == nil || !*r.Optional) {
			if cm, ok := ix.configMaps[r.Name]; ok && !configMapHas(cm, r.Key) {
				rep.addf("%s: env %s: ConfigMap %s has no key %q", at, e.Name, r.Name, r.Key)
			}
		}
	}
	for _, ef := range c.EnvFrom {
		if r := ef.ConfigMapRef; r != nil && (r.Optional == nil || !*r.Optional) {
			if _, ok := ix.configMaps[r.Name]; !ok {
				rep.addf("%s: envFrom ConfigMap %s is not rendered by the chart", at, r.Name)
			}
		}
	}
}

// checkSecretFiles: a <VAR>_FILE variable must name a file of a mounted
// Secret, or the worker stops at start.
func checkSecretFiles(at string, c *corev1.Container, volumes map[string]*corev1.Volume, rep *Report) {
	files := map[string]bool{}
	for _, m := range c.VolumeMounts {
		v := volumes[m.Name]
		if v == nil || v.Secret == nil {
			continue
		}
		for _, it := range v.Secret.Items {
			files[path.Join(m.MountPath, it.Path)] = true
		}
	}
	for _, e := range c.Env {
		if strings.HasSuffix(e.Name, "_FILE") && e.ValueFrom == nil && !files[e.Value] {
			rep.addf("%s: env %s=%s is not a file of a mounted Secret item", at, e.Name, e.Value)
		}
	}
}

// checkGracePeriod: a container whose settings include SHUTDOWN_TIMEOUT
// must get longer than the preStop hook plus SHUTDOWN_TIMEOUT plus the
// worker's 5 s for open HTTP requests before Kubernetes kills it; a send
// cut short there has an unknown outcome.
func checkGracePeriod(at string, spec *corev1.PodSpec, c *corev1.Container, ix *index, rep *Report) {
	raw, ok := "", false
	for _, e := range c.Env {
		if e.Name == "SHUTDOWN_TIMEOUT" && e.ValueFrom == nil {
			raw, ok = e.Value, true
		}
	}
	for _, ef := range c.EnvFrom {
		if ef.ConfigMapRef == nil || ok {
			continue
		}
		if cm := ix.configMaps[ef.ConfigMapRef.Name]; cm != nil {
			raw, ok = cm.Data[ef.Prefix+"SHUTDOWN_TIMEOUT"]
		}
	}
	if !ok {
		return
	}
	shutdown, err := time.ParseDuration(raw)
	if err != nil {
		rep.addf("%s: SHUTDOWN_TIMEOUT %q: %v", at, raw, err)
		return
	}
	need := shutdown + 5*time.Second
	if c.Lifecycle != nil && c.Lifecycle.PreStop != nil && c.Lifecycle.PreStop.Sleep != nil {
		need += time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
	}
	grace := int64(corev1.DefaultTerminationGracePeriodSeconds)
	if spec.TerminationGracePeriodSeconds != nil {
		grace = *spec.TerminationGracePeriodSeconds
	}
	if time.Duration(grace)*time.Second <= need {
		rep.addf("%s: terminationGracePeriodSeconds %d does not exceed the drain time %v (preStop + SHUTDOWN_TIMEOUT %s + 5s)", at, grace, need, raw)
	}
}

// checkSelectorOverlap: two controllers whose selectors match each other's
// pods fight over them.
func checkSelectorOverlap(ix *index, rep *Report) {
	for _, a := range ix.workloads {
		if a.selector == nil {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(a.selector)
		if err != nil {
			continue
		}
		for _, b := range ix.workloads {
			if a != b && sel.Matches(labels.Set(b.pod.Labels)) {
				rep.addf("%s: its selector also matches the pods of %s", a.ref, b.ref)
			}
		}
	}
}

// selected returns the workloads whose pod templates a selector matches.
func selected(sel labels.Selector, ix *index) []*workload {
	var out []*workload
	for _, w := range ix.workloads {
		if sel.Matches(labels.Set(w.pod.Labels)) {
			out = append(out, w)
		}
	}
	return out
}

func checkService(o object, s *corev1.Service, ix *index, rep *Report) {
	at := o.file + ": " + o.ref()
	if len(s.Spec.Selector) == 0 {
		return
	}
	ws := selected(labels.SelectorFromSet(s.Spec.Selector), ix)
	if len(ws) == 0 {
		rep.addf("%s: selector %v matches no pods of the chart", at, s.Spec.Selector)
		return
	}
	for _, p := range s.Spec.Ports {
		target := p.TargetPort
		if target.Type == intstr.Int && target.IntVal == 0 {
			target = intstr.FromInt32(p.Port)
		}
		for _, w := range ws {
			found := false
			for i := range w.pod.Spec.Containers {
				found = found || containerHasPort(&w.pod.Spec.Containers[i], target)
			}
			if !found {
				rep.addf("%s: port %s targets %s, which no container of %s has", at, p.Name, target.String(), w.ref)
			}
		}
	}
}

func checkHPA(o object, h *autoscalingv2.HorizontalPodAutoscaler, ix *index, rep *Report) {
	at := o.file + ": " + o.ref()
	ref := h.Spec.ScaleTargetRef
	if ref.Kind != "Deployment" || ref.APIVersion != "apps/v1" {
		rep.addf("%s: scaleTargetRef %s %s is not an apps/v1 Deployment", at, ref.APIVersion, ref.Kind)
	} else if w, ok := ix.deployments[ref.Name]; !ok {
		rep.addf("%s: scaleTargetRef names Deployment %s, which the chart does not render", at, ref.Name)
	} else if w.replicasSet {
		rep.addf("%s: Deployment %s sets spec.replicas; under an HPA every upgrade would reset the count", at, ref.Name)
	}
	if h.Spec.MinReplicas != nil && *h.Spec.MinReplicas > h.Spec.MaxReplicas {
		rep.addf("%s: minReplicas %d is above maxReplicas %d", at, *h.Spec.MinReplicas, h.Spec.MaxReplicas)
	}
	if len(h.Spec.Metrics) == 0 {
		rep.addf("%s: no metrics", at)
	}
	for i, m := range h.Spec.Metrics {
		var target *autoscalingv2.MetricTarget
		switch m.Type {
		case autoscalingv2.ResourceMetricSourceType:
			if m.Resource != nil {
				target = &m.Resource.Target
			}
		case autoscalingv2.ExternalMetricSourceType:
			if m.External != nil {
				target = &m.External.Target
			}
		case autoscalingv2.PodsMetricSourceType:
			if m.Pods != nil {
				target = &m.Pods.Target
			}
		}
		if target == nil {
			rep.addf("%s: metrics[%d] of type %s has no %s source", at, i, m.Type, strings.ToLower(string(m.Type)))
			continue
		}
		switch target.Type {
		case autoscalingv2.UtilizationMetricType:
			if target.AverageUtilization == nil {
				rep.addf("%s: metrics[%d]: Utilization without averageUtilization", at, i)
			}
		case autoscalingv2.AverageValueMetricType:
			if target.AverageValue == nil || target.AverageValue.Sign() <= 0 {
				rep.addf("%s: metrics[%d]: AverageValue without a positive averageValue", at, i)
			}
		case autoscalingv2.ValueMetricType:
			if target.Value == nil {
				rep.addf("%s: metrics[%d]: Value without value", at, i)
			}
		default:
			rep.addf("%s: metrics[%d]: target type %q", at, i, target.Type)
		}
	}
}

func checkPDB(o object, p *policyv1.PodDisruptionBudget, ix *index, rep *Report) {
	at := o.file + ": " + o.ref()
	if (p.Spec.MinAvailable == nil) == (p.Spec.MaxUnavailable == nil) {
		rep.addf("%s: set exactly one of minAvailable and maxUnavailable", at)
	}
	sel, err := metav1.LabelSelectorAsSelector(p.Spec.Selector)
	if err != nil || sel.Empty() {
		rep.addf("%s: selector is empty or invalid", at)
		return
	}
	if len(selected(sel, ix)) == 0 {
		rep.addf("%s: selector %s matches no pods of the chart", at, sel)
	}
}

func checkIngress(o object, ing *networkingv1.Ingress, ix *index, rep *Report) {
	at := o.file + ": " + o.ref()
	for _, r := range ing.Spec.Rules {
		if r.HTTP == nil {
			continue
		}
		for _, p := range r.HTTP.Paths {
			if p.PathType == nil {
				rep.addf("%s: path %s has no pathType", at, p.Path)
			}
			b := p.Backend.Service
			if b == nil {
				continue
			}
			s, ok := ix.services[b.Name]
			if !ok {
				rep.addf("%s: backend Service %s is not rendered by the chart", at, b.Name)
				continue
			}
			found := false
			for _, sp := range s.Spec.Ports {
				found = found || (b.Port.Name != "" && sp.Name == b.Port.Name) || (b.Port.Number != 0 && sp.Port == b.Port.Number)
			}
			if !found {
				rep.addf("%s: backend port %s%d is not a port of Service %s", at, b.Port.Name, b.Port.Number, b.Name)
			}
		}
	}
}

func checkJob(o object, j *batchv1.Job, rep *Report) {
	at := o.file + ": " + o.ref()
	rp := j.Spec.Template.Spec.RestartPolicy
	if rp != corev1.RestartPolicyNever && rp != corev1.RestartPolicyOnFailure {
		rep.addf("%s: restartPolicy %q: a Job's pods need Never or OnFailure", at, rp)
	}
	if pfp := j.Spec.PodFailurePolicy; pfp != nil {
		if rp != corev1.RestartPolicyNever {
			rep.addf("%s: podFailurePolicy needs restartPolicy Never", at)
		}
		for i, r := range pfp.Rules {
			if r.OnExitCodes == nil || r.OnExitCodes.ContainerName == nil {
				continue
			}
			found := false
			for _, c := range j.Spec.Template.Spec.Containers {
				found = found || c.Name == *r.OnExitCodes.ContainerName
			}
			if !found {
				rep.addf("%s: podFailurePolicy rule %d names container %s, which the pod lacks", at, i, *r.OnExitCodes.ContainerName)
			}
		}
	}
}

func checkServiceMonitor(o object, sm *ServiceMonitor, ix *index, rep *Report) {
	at := o.file + ": " + o.ref()
	sel, err := metav1.LabelSelectorAsSelector(&sm.Spec.Selector)
	if err != nil {
		return // reported when it was decoded
	}
	var svcs []*corev1.Service
	names := make([]string, 0, len(ix.services))
	for n := range ix.services {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if s := ix.services[n]; sel.Matches(labels.Set(s.Labels)) {
			svcs = append(svcs, s)
		}
	}
	if len(svcs) == 0 {
		rep.addf("%s: selector %s matches no Service of the chart", at, sel)
		return
	}
	for i, ep := range sm.Spec.Endpoints {
		if ep.Port != "" {
			for _, s := range svcs {
				found := false
				for _, p := range s.Spec.Ports {
					found = found || p.Name == ep.Port
				}
				if !found {
					rep.addf("%s: endpoints[%d] port %q is not a port name of Service %s", at, i, ep.Port, s.Name)
				}
			}
		}
		if ep.Interval != "" && ep.ScrapeTimeout != "" {
			iv, err1 := time.ParseDuration(ep.Interval)
			st, err2 := time.ParseDuration(ep.ScrapeTimeout)
			if err1 == nil && err2 == nil && st > iv {
				rep.addf("%s: endpoints[%d] scrapeTimeout %s is longer than interval %s", at, i, ep.ScrapeTimeout, ep.Interval)
			}
		}
	}
}
