package server_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/optel-dev/optel/server"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func text(s string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, s) })
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func run(t *testing.T, s *server.Server) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Start returned %v after a clean stop", err)
		}
		http.DefaultClient.CloseIdleConnections()
	})
}

func TestListeners(t *testing.T) {
	metrics := server.Routes{"/metrics": text("m")}
	health := server.Routes{"/healthz": text("h")}
	for _, tc := range []struct {
		name                 string
		opts                 server.Options
		metricsOK, healthSep bool
		healthOff            bool
	}{
		{name: "one port by default", opts: server.Options{BindAddress: "127.0.0.1:0"}, metricsOK: true},
		{name: "separate health port", opts: server.Options{BindAddress: "127.0.0.1:0", HealthProbeBindAddress: "127.0.0.1:0"}, metricsOK: true, healthSep: true},
		{name: "metrics disabled, health on its own", opts: server.Options{BindAddress: "0", HealthProbeBindAddress: "127.0.0.1:0"}, healthSep: true},
		{name: "health disabled", opts: server.Options{BindAddress: "127.0.0.1:0", HealthProbeBindAddress: "0"}, metricsOK: true, healthOff: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := server.New(tc.opts, metrics, health)
			if err != nil {
				t.Fatal(err)
			}
			run(t, s)
			if tc.metricsOK {
				if code, body := get(t, "http://"+s.MetricsAddr()+"/metrics"); code != 200 || body != "m" {
					t.Errorf("/metrics = %d %q", code, body)
				}
			} else if s.MetricsAddr() != "" {
				t.Errorf("metrics listener bound at %s while disabled", s.MetricsAddr())
			}
			if tc.healthOff {
				if s.HealthAddr() != "" {
					t.Errorf("health bound at %s while disabled", s.HealthAddr())
				}
				if code, _ := get(t, "http://"+s.MetricsAddr()+"/healthz"); code != 404 {
					t.Errorf("/healthz on metrics port = %d, want 404", code)
				}
				return
			}
			if code, body := get(t, "http://"+s.HealthAddr()+"/healthz"); code != 200 || body != "h" {
				t.Errorf("/healthz = %d %q", code, body)
			}
			if tc.healthSep && s.MetricsAddr() == s.HealthAddr() {
				t.Error("health shares the metrics listener")
			}
			if !tc.healthSep && s.MetricsAddr() != s.HealthAddr() {
				t.Error("health should share the metrics listener by default")
			}
		})
	}
}

func TestExtraHandlersAndUnknownPaths(t *testing.T) {
	s, err := server.New(server.Options{BindAddress: "127.0.0.1:0", ExtraHandlers: map[string]http.Handler{"/debug/state": text("state")}},
		server.Routes{"/metrics": text("m")}, server.Routes{"/healthz": text("h")})
	if err != nil {
		t.Fatal(err)
	}
	run(t, s)
	if code, body := get(t, "http://"+s.MetricsAddr()+"/debug/state"); code != 200 || body != "state" {
		t.Errorf("extra handler = %d %q", code, body)
	}
	if code, _ := get(t, "http://"+s.MetricsAddr()+"/nope"); code != 404 {
		t.Errorf("unknown path = %d", code)
	}
}

func TestBadOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts server.Options
		m, h server.Routes
		want string
	}{
		{"address without port", server.Options{BindAddress: "localhost"}, nil, nil, "--metrics-bind-address"},
		{"bad health address", server.Options{BindAddress: "127.0.0.1:0", HealthProbeBindAddress: "x"}, nil, nil, "--health-probe-bind-address"},
		{"extra handler collides", server.Options{BindAddress: "127.0.0.1:0", ExtraHandlers: map[string]http.Handler{"/metrics": text("")}}, server.Routes{"/metrics": text("")}, nil, "already served"},
		{"health collides on shared port", server.Options{BindAddress: "127.0.0.1:0"}, server.Routes{"/healthz": text("")}, server.Routes{"/healthz": text("")}, "already served"},
		{"relative path", server.Options{BindAddress: "127.0.0.1:0"}, server.Routes{"metrics": text("")}, nil, "must start with /"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := server.New(tc.opts, tc.m, tc.h)
			if err == nil {
				_ = s.Shutdown(context.Background())
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q should mention %q", err, tc.want)
			}
		})
	}
}

func TestPortInUse(t *testing.T) {
	a, err := server.New(server.Options{BindAddress: "127.0.0.1:0"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Shutdown(context.Background())
	if _, err := server.New(server.Options{BindAddress: a.MetricsAddr()}, nil, nil); err == nil || !strings.Contains(err.Error(), a.MetricsAddr()) {
		t.Errorf("second bind = %v, want an error naming the address", err)
	}
}

func TestShutdownLifecycle(t *testing.T) {
	s, err := server.New(server.Options{BindAddress: "127.0.0.1:0"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown before Start: %v", err)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
	if err := s.Start(context.Background()); !errors.Is(err, server.ErrShutdown) {
		t.Errorf("Start after Shutdown = %v, want ErrShutdown", err)
	}
}
