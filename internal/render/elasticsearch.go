package render

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// Elasticsearch's names and ports besides esApp and esHTTPPort.
const (
	esHeadless       = "elasticsearch-headless"
	esTransportPort  = 9300
	esExporterPort   = 9114
	esTransportCerts = "elasticsearch-transport-certs"
	esMaxMapCount    = 262144
	esDataDir        = "/usr/share/elasticsearch/data"
	esCertsDir       = "/usr/share/elasticsearch/config/certs"
)

// elasticsearch stores the logs (and, in ha, the traces): a StatefulSet
// with security on, its Services, an exporter sidecar for Prometheus, the
// node setting Elasticsearch needs, and a daily job that enforces the
// retention.
//
// One replica runs as a single-node cluster. More replicas discover each
// other through the headless Service and bootstrap from the pod names;
// Elasticsearch then refuses to start unless the transport layer between
// nodes uses TLS, with a certificate every node trusts: obsctl apply
// generates the Secret elasticsearch-transport-certs once, a private CA and
// a certificate it signs, in the kubernetes.io/tls layout (tls.crt,
// tls.key and ca.crt, as cert-manager writes it, so a user may provide
// their own instead). The certificate's host names are not checked
// (verification_mode certificate), so one certificate serves every node.
//
// The HTTP layer stays plain HTTP inside the cluster, behind the
// credentials and the NetworkPolicies.
func elasticsearch(b *builder, r *resolved) error {
	const app = esApp
	ns := b.ns
	b.esCredentials()
	multi := r.replicas > 1

	heap := halfMemoryMiB(r.resources)
	env := []corev1.EnvVar{
		envField("POD_NAME", "metadata.name"),
		// The image passes every variable named like a setting as -E.
		envValue("node.name", "$(POD_NAME)"),
		envValue("cluster.name", b.stack),
		envValue("network.host", "0.0.0.0"),
		envValue("xpack.security.enabled", "true"),
		envSecret("ELASTIC_PASSWORD", esCredentialsSecret, "password"),
		envValue("ES_JAVA_OPTS", fmt.Sprintf("-Xms%dm -Xmx%dm", heap, heap)),
		// No downloads at start: the stack may run air-gapped.
		envValue("ingest.geoip.downloader.enabled", "false"),
	}
	if multi {
		masters := make([]string, r.replicas)
		for i := range masters {
			masters[i] = fmt.Sprintf("%s-%d", app, i)
		}
		env = append(env,
			envValue("discovery.seed_hosts", esHeadless),
			// Read only when a node has no cluster state yet.
			envValue("cluster.initial_master_nodes", strings.Join(masters, ",")),
			envValue("xpack.security.transport.ssl.enabled", "true"),
			envValue("xpack.security.transport.ssl.verification_mode", "certificate"),
			// Relative to the config directory, the only place
			// Elasticsearch reads key material from.
			envValue("xpack.security.transport.ssl.key", "certs/tls.key"),
			envValue("xpack.security.transport.ssl.certificate", "certs/tls.crt"),
			envValue("xpack.security.transport.ssl.certificate_authorities", "certs/ca.crt"),
		)
	} else {
		env = append(env, envValue("discovery.type", "single-node"))
	}

	es := r.container(app, nil, port("http", esHTTPPort), port("transport", esTransportPort))
	es.Env = env
	// Restricted, but with a writable root file system: at start the
	// image writes the bootstrap password into the keystore under
	// config/, and the JVM its logs under logs/.
	es.SecurityContext = restrictedContainer(false)
	es.StartupProbe = startupTCP("http", 30)
	es.LivenessProbe = tcpProbe("transport", 0, 20)
	es.ReadinessProbe = probeExec([]string{"bash", "-c",
		`curl -fsS --max-time 4 -u "elastic:${ELASTIC_PASSWORD}" "http://localhost:9200/_cluster/health?local=true" >/dev/null`,
	}, 0, 10)
	es.VolumeMounts = []corev1.VolumeMount{volMount("data", esDataDir, false)}

	exporter := corev1.Container{
		Name:            "exporter",
		Image:           b.imageRef(imageESExporter),
		ImagePullPolicy: corev1.PullIfNotPresent,
		Args: []string{
			"--es.uri=http://localhost:9200",
			fmt.Sprintf("--web.listen-address=:%d", esExporterPort),
		},
		// Read instead of credentials in --es.uri, which would show in
		// the process list.
		Env: []corev1.EnvVar{
			envSecret("ES_USERNAME", esCredentialsSecret, "username"),
			envSecret("ES_PASSWORD", esCredentialsSecret, "password"),
		},
		Ports:          []corev1.ContainerPort{port("metrics", esExporterPort)},
		Resources:      helperResources("20m", "32Mi", "64Mi"),
		LivenessProbe:  httpProbe("/healthz", "metrics", 5, 20),
		ReadinessProbe: httpProbe("/healthz", "metrics", 5, 10),
	}

	tpl := b.podTemplate(r, app, "", false, es, exporter)
	tpl.Spec.SecurityContext = podSecurityAs(1000) // the image's user
	sts := b.statefulSet(r, app, ns, app, esHeadless, "data", tpl)
	if multi {
		b.generateTLS(r, ns, esTransportCerts, esApp+"."+ns+".svc")
		sts.Spec.Template.Spec.Volumes = append(sts.Spec.Template.Spec.Volumes, corev1.Volume{
			Name: "transport-certs",
			VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
				SecretName: esTransportCerts, DefaultMode: ptr.To[int32](0o440),
			}},
		})
		c := &sts.Spec.Template.Spec.Containers[0]
		c.VolumeMounts = append(c.VolumeMounts, volMount("transport-certs", esCertsDir, true))
	}

	headless := r.service(esHeadless, ns, app, servicePort("http", esHTTPPort), servicePort("transport", esTransportPort))
	headless.Spec.ClusterIP = corev1.ClusterIPNone
	// Nodes find each other before any of them is ready.
	headless.Spec.PublishNotReadyAddresses = true
	b.add(
		sts,
		headless,
		r.service(app, ns, app, servicePort("http", esHTTPPort)),
		r.service("elasticsearch-metrics", ns, app, servicePort("metrics", esExporterPort)),
		esSysctl(b, r),
	)
	// Log indices are deleted by the ILM policies obsctl apply gives each
	// pipeline's index template (internal/logs); Jaeger names and maps its
	// own indices and puts its own templates for them, so a CronJob deletes
	// its day indices.
	if b.enabled("jaeger") && b.jaegerUsesES() {
		b.add(esCurator(b, r))
	}
	b.addPDB(r, app, ns, app)
	return nil
}

// esSysctl raises vm.max_map_count, which Elasticsearch checks at start,
// on every node its pods may run on: a DaemonSet in the privileged agent
// namespace whose init container sets it (never lowering it) and whose
// main container only reports, through its readiness, whether the node
// still has it. The setting is the node's, not the pod's: no pod of the
// restricted namespace may set it. An Elasticsearch pod scheduled before
// the setting is made fails its check and is restarted.
func esSysctl(b *builder, r *resolved) *appsv1.DaemonSet {
	const app = "elasticsearch-sysctl"
	want := strconv.Itoa(esMaxMapCount)
	main := corev1.Container{
		Name:            "check",
		Image:           b.imageRef(imageBusybox),
		ImagePullPolicy: corev1.PullIfNotPresent,
		Command:         []string{"sh", "-c", `trap 'exit 0' TERM; while true; do sleep 3600 & wait $!; done`},
		Resources:       helperResources("1m", "4Mi", "16Mi"),
		SecurityContext: restrictedContainer(true),
		// The value is checked for readiness only: a restart would not
		// run the init container again.
		ReadinessProbe: probeExec([]string{"sh", "-c", `test "$(sysctl -n vm.max_map_count)" -ge ` + want}, 0, 60),
		LivenessProbe:  probeExec([]string{"sysctl", "-n", "vm.max_map_count"}, 0, 60),
	}
	main.SecurityContext.RunAsUser = ptr.To[int64](65534)
	tpl := b.podTemplate(r, app, "", true, main)
	tpl.Spec.TopologySpreadConstraints = nil // one pod a node anyway
	tpl.Spec.SecurityContext = &corev1.PodSecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}}
	tpl.Spec.InitContainers = []corev1.Container{{
		Name:            "sysctl",
		Image:           b.imageRef(imageBusybox),
		ImagePullPolicy: corev1.PullIfNotPresent,
		Command: []string{"sh", "-c",
			`if [ "$(sysctl -n vm.max_map_count)" -lt ` + want + ` ]; then sysctl -w vm.max_map_count=` + want + `; fi`},
		Resources: helperResources("1m", "4Mi", "16Mi"),
		SecurityContext: &corev1.SecurityContext{
			Privileged: ptr.To(true),
			RunAsUser:  ptr.To[int64](0),
		},
	}}
	return b.daemonSet(r, app, b.agentNS, app, tpl)
}

// esCurator enforces Jaeger's retention on the traces it stores in
// Elasticsearch: a daily CronJob that deletes the date-suffixed indices
// (name-YYYY-MM-DD as Jaeger names them, or name-YYYY.MM.DD) of jaeger-*
// whose day ended before the retention. An index without a date suffix is
// never deleted. Jaeger puts its own index templates for its indices,
// which an obsctl template for jaeger-* would take the place of, so ILM is
// not used for them.
func esCurator(b *builder, r *resolved) *batchv1.CronJob {
	const app = "elasticsearch-curator"
	args := []string{jaegerIndexPrefix + "-*", esRetentionSeconds(b.resolve("jaeger").retention)}
	c := corev1.Container{
		Name: "curator",
		// The Elasticsearch image has bash and curl.
		Image:           r.image,
		ImagePullPolicy: corev1.PullIfNotPresent,
		Command:         append([]string{"bash", "-c", esCuratorScript, "curator", b.esURL()}, args...),
		Env:             []corev1.EnvVar{envSecret("ELASTIC_PASSWORD", esCredentialsSecret, "password")},
		Resources:       helperResources("10m", "32Mi", "64Mi"),
	}
	tpl := b.podTemplate(r, app, "", false, c)
	tpl.Spec.RestartPolicy = corev1.RestartPolicyNever
	tpl.Spec.TopologySpreadConstraints = nil // one pod a day
	return &batchv1.CronJob{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "CronJob"},
		ObjectMeta: r.meta(app, b.ns, app),
		Spec: batchv1.CronJobSpec{
			Schedule:                   "17 1 * * *",
			TimeZone:                   ptr.To("Etc/UTC"),
			ConcurrencyPolicy:          batchv1.ForbidConcurrent,
			SuccessfulJobsHistoryLimit: ptr.To[int32](1),
			FailedJobsHistoryLimit:     ptr.To[int32](3),
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{
				BackoffLimit:          ptr.To[int32](2),
				ActiveDeadlineSeconds: ptr.To[int64](600),
				Template:              tpl,
			}},
		},
	}
}

// esRetentionSeconds formats a retention for esCuratorScript.
func esRetentionSeconds(d time.Duration) string { return strconv.FormatInt(int64(d/time.Second), 10) }

// esCuratorScript takes the Elasticsearch URL, then pairs of an index
// pattern and a retention in seconds. An index's day is compared, as
// YYYY.MM.DD text, with the day the retention began: a day before it has
// ended before the retention began.
const esCuratorScript = `set -euo pipefail
es=$1; shift
now=$(date -u +%s)
while [ $# -ge 2 ]; do
  pattern=$1 keep=$2; shift 2
  cutoff=$(date -u -d "@$((now - keep))" +%Y.%m.%d)
  echo "deleting ${pattern} indices from before ${cutoff}"
  curl -fsS -u "elastic:${ELASTIC_PASSWORD}" "${es}/_cat/indices/${pattern}?h=index&expand_wildcards=open,closed" |
  while read -r index; do
    day=${index: -10}
    day=${day//-/.}
    [[ $day =~ ^[0-9]{4}\.[0-9]{2}\.[0-9]{2}$ ]] || continue
    if [[ $day < $cutoff ]]; then
      echo "delete ${index}"
      curl -fsS -u "elastic:${ELASTIC_PASSWORD}" -X DELETE "${es}/${index}" >/dev/null
    fi
  done
done
`
