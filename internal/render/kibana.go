package render

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Kibana's port and the Secret of its encryption keys.
const (
	kibanaPort       = 5601
	kibanaKeysSecret = "kibana-encryption-keys"
)

// kibana searches the logs: a Deployment reading the stack's
// Elasticsearch. Without Elasticsearch there is nothing to search, so it
// renders nothing; lint reports the combination.
//
// Kibana signs in to Elasticsearch as the elastic superuser, with the
// generated password: Kibana 7.17 accepts it (with a deprecation warning);
// Kibana 8 would need the kibana_system user, whose password obsctl would
// then have to set through Elasticsearch's API.
//
// Its encryption keys come from a generated Secret, so that every replica
// (and every restart) decrypts the same sessions and saved objects.
func kibana(b *builder, r *resolved) error {
	if !b.enabled("elasticsearch") {
		return nil
	}
	const app = "kibana"
	ns := b.ns
	b.esCredentials()
	b.generate(r, ns, kibanaKeysSecret, nil, "security", "saved-objects", "reporting")

	env := []corev1.EnvVar{
		envValue("SERVER_NAME", app),
		envValue("SERVER_HOST", "0.0.0.0"),
		envValue("ELASTICSEARCH_HOSTS", b.esURL()),
		envSecret("ELASTICSEARCH_USERNAME", esCredentialsSecret, "username"),
		envSecret("ELASTICSEARCH_PASSWORD", esCredentialsSecret, "password"),
		envSecret("XPACK_SECURITY_ENCRYPTIONKEY", kibanaKeysSecret, "security"),
		envSecret("XPACK_ENCRYPTEDSAVEDOBJECTS_ENCRYPTIONKEY", kibanaKeysSecret, "saved-objects"),
		envSecret("XPACK_REPORTING_ENCRYPTIONKEY", kibanaKeysSecret, "reporting"),
		// The probes read /api/status without credentials; it tells the
		// state of Kibana's plugins, not data.
		envValue("STATUS_ALLOWANONYMOUS", "true"),
		// No calls home: the stack may run air-gapped.
		envValue("TELEMETRY_ENABLED", "false"),
		envValue("NEWSFEED_ENABLED", "false"),
		// Node.js sizes its heap from the machine, not the container.
		envValue("NODE_OPTIONS", fmt.Sprintf("--max-old-space-size=%d", halfMemoryMiB(r.resources))),
	}
	if u, ok := b.ingressURL("kibana"); ok {
		env = append(env, envValue("SERVER_PUBLICBASEURL", strings.TrimSuffix(u, "/"))) // Kibana refuses a trailing slash
	}
	c := r.container(app, nil, port("http", kibanaPort))
	c.Env = env
	// Restricted, but with a writable root file system: Kibana's image
	// does not document running from a read-only root, so obsctl does not
	// rely on it. data/ and /tmp are volumes regardless.
	c.SecurityContext = restrictedContainer(false)
	c.StartupProbe = startupTCP("http", 30)
	c.LivenessProbe = tcpProbe("http", 0, 20)
	c.ReadinessProbe = httpProbe("/api/status", "http", 0, 10)
	c.VolumeMounts = []corev1.VolumeMount{
		volMount("data", "/usr/share/kibana/data", false),
		volMount("tmp", "/tmp", false),
	}
	tpl := b.podTemplate(r, app, "", false, c)
	tpl.Spec.SecurityContext = podSecurityAs(1000) // the image's user
	tpl.Spec.Volumes = []corev1.Volume{volEmptyDir("data"), volEmptyDir("tmp")}
	b.add(
		b.deployment(r, app, ns, app, tpl),
		r.service(app, ns, app, servicePort("http", kibanaPort)),
	)
	b.addPDB(r, app, ns, app)
	return nil
}
