// Package amroute is the compile stage for alert routing: it turns the
// alerting section of obsctl.yaml into a complete Alertmanager
// configuration (alertmanager.yaml).
//
// The configuration is built with Alertmanager's own library types,
// marshalled to byte-stable YAML and loaded back with Alertmanager's own
// config.Load, so that what obsctl renders is exactly what Alertmanager
// accepts. Secrets are never written into the YAML: every secret reference
// becomes a *_file path under SecretDir, and the Kubernetes Secrets that
// must be mounted there are listed in Result.Secrets for the render and
// apply stages. The lint stage compiles too, to check routing.
package amroute
