// Package secret finds credentials written in text: tokens by their shape
// (Slack, GitHub, GitLab, Google, Stripe, AWS, Telegram, Grafana, JWTs,
// private keys, webhook URLs that are themselves the credential), values
// after an authorization scheme (Bearer, Basic, GenieKey), passwords in
// URLs, and the literal values of fields named like a credential
// (api_key, routingKey, auth_password, client_secret, DD_API_KEY=,
// AccountKey=, the credential fields of every Alertmanager integration),
// on one line or over the lines of a block scalar or a private key. It
// knows the placeholders and look-alikes that are not credentials: ${VAR},
// {{ templates }}, <your key>, xxxx, *_file fields, names of Secrets.
//
// Two stages use it: lint's secrets/plaintext check reports what it
// finds, and the report stage masks it in every excerpt and message it
// prints, whichever check reported the line.
package secret
