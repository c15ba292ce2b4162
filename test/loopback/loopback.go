// Package loopback starts the tests' stand-in servers (Elasticsearch,
// Kibana, Grafana) on a loopback address, as every test traffic stays.
package loopback

import (
	"net"
	"net/http"
	"net/http/httptest"
)

// Serve serves h on addr, 127.0.0.1:0 (a free port) when empty.
func Serve(addr string, h http.Handler) (*httptest.Server, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := httptest.NewUnstartedServer(h)
	s.Listener.Close()
	s.Listener = l
	s.Start()
	return s, nil
}
