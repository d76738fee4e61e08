package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/readyz":
			w.WriteHeader(http.StatusOK)
		case "/slow":
			<-r.Context().Done()
		default:
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()

	tests := []struct {
		name    string
		args    []string
		want    int
		wantErr string
	}{
		{name: "ready", args: []string{srv.URL + "/readyz"}, want: 0},
		{name: "not ready", args: []string{srv.URL + "/down"}, want: 1, wantErr: "503"},
		{name: "refused", args: []string{closed.URL + "/readyz"}, want: 1, wantErr: "probe:"},
		{name: "timeout", args: []string{"-timeout", "50ms", srv.URL + "/slow"}, want: 1, wantErr: "deadline"},
		{name: "no url", args: nil, want: 2, wantErr: "usage"},
		{name: "two urls", args: []string{srv.URL, srv.URL}, want: 2, wantErr: "usage"},
		{name: "bad flag", args: []string{"-nope", srv.URL}, want: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			got := run(context.Background(), tc.args, &stderr)
			if got != tc.want {
				t.Fatalf("exit code = %d, want %d (stderr %q)", got, tc.want, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.wantErr) {
				t.Errorf("stderr = %q, want it to contain %q", stderr.String(), tc.wantErr)
			}
		})
	}
}
