package server_test

import (
	"context"
	"fmt"
	"net/http"

	"github.com/optel-dev/optel/server"
)

func Example() {
	srv, err := server.New(server.Options{BindAddress: "127.0.0.1:0"},
		server.Routes{"/metrics": http.NotFoundHandler()},
		server.Routes{"/healthz": http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "ok") })})
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- srv.Start(ctx) }()

	resp, err := http.Get("http://" + srv.HealthAddr() + "/healthz")
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode, srv.HealthAddr() == srv.MetricsAddr())
	cancel()
	fmt.Println(<-done)
	http.DefaultClient.CloseIdleConnections()
	// Output:
	// 200 true
	// <nil>
}
