# The obsctl image: the static Linux binary `make dist` builds, and nothing
# else but the CA certificates and the non-root user of distroless/static
# (obsctl reaches the Kubernetes API, Grafana and Elasticsearch over TLS).
#
#   make dist VERSION=v1.2.3
#   docker buildx build --platform linux/amd64,linux/arm64 --build-arg VERSION=v1.2.3 -t obsctl:v1.2.3 .
#
# test/dist checks that what it copies is what make dist writes.
FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION
ARG TARGETOS=linux
ARG TARGETARCH=amd64
COPY dist/obsctl-${VERSION}-${TARGETOS}-${TARGETARCH}/obsctl /usr/local/bin/obsctl
USER nonroot:nonroot
WORKDIR /repo
ENTRYPOINT ["/usr/local/bin/obsctl"]
