package server_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/optel-dev/optel/server"
)

// TestSlowAndBadClients: a slowloris connection is cut at ReadHeaderTimeout
// while other clients are served; oversized headers get 431; unknown paths
// get 404.
func TestSlowAndBadClients(t *testing.T) {
	s, err := server.New(server.Options{BindAddress: "127.0.0.1:0", ReadHeaderTimeout: 300 * time.Millisecond},
		server.Routes{"/metrics": text("m")}, server.Routes{"/healthz": text("h")})
	if err != nil {
		t.Fatal(err)
	}
	run(t, s)

	// Slowloris: send a request line and then trickle header bytes.
	conn, err := net.Dial("tcp", s.MetricsAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET /metrics HTTP/1.1\r\nHost: x\r\n"); err != nil {
		t.Fatal(err)
	}
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		for range 50 { // at most 5 s of trickling; the server must cut it first
			if _, err := io.WriteString(conn, "X-Slow: a\r\n"); err != nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	// Meanwhile other clients are served.
	for range 5 {
		if code, body := get(t, "http://"+s.MetricsAddr()+"/metrics"); code != 200 || body != "m" {
			t.Errorf("concurrent client got %d %q", code, body)
		}
	}
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("slowloris connection was never closed")
	}
	_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	if resp, err := http.ReadResponse(bufio.NewReader(conn), nil); err == nil && resp.StatusCode == 200 {
		t.Error("slowloris request was served")
	}

	// Oversized headers.
	req, _ := http.NewRequest("GET", "http://"+s.MetricsAddr()+"/metrics", nil)
	req.Header.Set("X-Big", strings.Repeat("a", 200<<10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("200 KiB of headers: %d, want 431", resp.StatusCode)
	}

	if code, _ := get(t, "http://"+s.MetricsAddr()+"/../etc/passwd"); code != 404 {
		t.Errorf("unknown path: %d", code)
	}
	if code, body := get(t, "http://"+s.MetricsAddr()+"/healthz"); code != 200 || body != "h" {
		t.Errorf("after the abuse /healthz = %d %q", code, body)
	}
}
