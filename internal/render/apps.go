package render

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"

	"github.com/obsctl/obsctl/internal/compile"
)

// What the Grafana, Elasticsearch, Kibana, Fluentd and Jaeger components
// share: how they reach Elasticsearch, and small builders of pod parts
// that meta.go leaves to each component.

// annotationConfigHash is the pod template annotation holding the SHA-256
// of a workload's configuration files: the files come from ConfigMaps,
// whose changes do not restart pods by themselves, so a changed file
// changes the template and rolls the workload.
const annotationConfigHash = "obsctl.dev/config-sha256"

// Elasticsearch as its clients reach it. The credentials Secret is
// generated once by apply; every client reads the same Secret, copied
// into the agent namespace for Fluentd.
const (
	esApp               = compile.ElasticsearchService
	esHTTPPort          = compile.ElasticsearchPort
	esCredentialsSecret = ElasticsearchCredentialsSecret
	esUser              = compile.ElasticsearchUser
)

// esURL is the URL of Elasticsearch's client Service, from any namespace.
func (b *builder) esURL() string {
	return b.svcURL(esApp, esHTTPPort)
}

// esCredentials records the Elasticsearch credentials Secret in the
// stack's namespace and, with the same values, in each of also. Every
// reader records it: the Secret exists whichever of them is on, and
// generateIn merges the namespaces.
func (b *builder) esCredentials(also ...string) {
	b.generateIn(b.resolve("elasticsearch"), append([]string{b.ns}, also...), esCredentialsSecret,
		map[string]string{"username": esUser}, "password")
}

// ElasticsearchCredentialsSecret is the Secret obsctl generates with
// Elasticsearch's user (username) and password (password).
const ElasticsearchCredentialsSecret = "elasticsearch-credentials"

// svcURL is the in-cluster URL of a Service of the stack's namespace.
func (b *builder) svcURL(service string, port int32) string {
	return fmt.Sprintf("http://%s.%s.svc:%d", service, b.ns, port)
}

// envValue is an environment variable with a literal value.
func envValue(name, value string) corev1.EnvVar { return corev1.EnvVar{Name: name, Value: value} }

// envSecret is an environment variable read from a Secret's key, so that
// the value appears in no rendered object.
func envSecret(name, secret, key string) corev1.EnvVar {
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: secret}, Key: key,
	}}}
}

// envField is an environment variable read from the pod's own fields.
func envField(name, path string) corev1.EnvVar {
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: path}}}
}

// volEmptyDir is a scratch volume that lives as long as the pod.
func volEmptyDir(name string) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}
}

// volConfigMap mounts every key of a ConfigMap as a file.
func volConfigMap(name, configMap string) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
		LocalObjectReference: corev1.LocalObjectReference{Name: configMap},
	}}}
}

// volHostPath is a node's directory.
func volHostPath(name, path string, typ corev1.HostPathType) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: path, Type: ptr.To(typ)}}}
}

// volMount mounts the named volume at path.
func volMount(name, path string, readOnly bool) corev1.VolumeMount {
	return corev1.VolumeMount{Name: name, MountPath: path, ReadOnly: readOnly}
}

// probeExec runs a command in the container; it succeeds when the
// command exits 0.
func probeExec(command []string, initialDelay, period int32) *corev1.Probe {
	return &corev1.Probe{
		ProbeHandler:        corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: command}},
		InitialDelaySeconds: initialDelay,
		PeriodSeconds:       period,
		TimeoutSeconds:      5,
		FailureThreshold:    6,
	}
}

// startupTCP gives a slow starter up to attempts×10 seconds to open the
// named port before the liveness probe takes over.
func startupTCP(portName string, attempts int32) *corev1.Probe {
	p := tcpProbe(portName, 10, 10)
	p.FailureThreshold = attempts
	return p
}

// helperResources are the fixed requests and limits of a helper container
// (a sidecar, an init container, a job); obsctl.yaml sizes only the
// components' main containers.
func helperResources(cpu, memory, memoryLimit string) corev1.ResourceRequirements {
	return corev1.ResourceRequirements{
		Requests: corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse(cpu),
			corev1.ResourceMemory: resource.MustParse(memory),
		},
		Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(memoryLimit)},
	}
}

// halfMemoryMiB is half the container's memory limit (or, without one,
// its request) in MiB, at least 64: the heap of a JVM or Node.js process,
// leaving the rest to what the runtime uses outside the heap.
func halfMemoryMiB(res corev1.ResourceRequirements) int64 {
	q, ok := res.Limits[corev1.ResourceMemory]
	if !ok {
		q = res.Requests[corev1.ResourceMemory]
	}
	return max(q.Value()/2/(1<<20), 64)
}

// hashConfig returns the SHA-256 of files, each name and content length
// prefixed so that moving bytes between files changes the sum.
func hashConfig(files ...string) string {
	h := sha256.New()
	for _, f := range files {
		fmt.Fprintf(h, "%d:%s;", len(f), f)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// setConfigHash annotates a pod template with hashConfig(files...).
func setConfigHash(tpl *corev1.PodTemplateSpec, files ...string) {
	if tpl.Annotations == nil {
		tpl.Annotations = map[string]string{}
	}
	tpl.Annotations[annotationConfigHash] = hashConfig(files...)
}

// podSecurityAs is the pod security context of images built to run as a
// given user (Elasticsearch and Kibana run as 1000): restricted, as
// podTemplate's, with that user and group owning the volumes.
func podSecurityAs(uid int64) *corev1.PodSecurityContext {
	return &corev1.PodSecurityContext{
		RunAsNonRoot:   ptr.To(true),
		RunAsUser:      ptr.To(uid),
		RunAsGroup:     ptr.To(uid),
		FSGroup:        ptr.To(uid),
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}
