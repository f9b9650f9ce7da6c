package main

import (
	"net/http/httptest"
	"testing"

	"github.com/keyward/keyward/authn/command"
)

// BenchmarkListsGet is the example's hot path end to end, in process: a
// command on an API key, through the middleware, the router and the JSON
// envelope, on the memory store. tools/load measures the same over TCP.
func BenchmarkListsGet(b *testing.B) {
	ta := newTestApp(b, command.Config{})
	key, _ := ta.userKey()
	if got := ta.send(urlencoded("Command", "List.Create", "APIKey", key, "SubscriberListName", "Newsletter")); !got.Success {
		b.Fatalf("List.Create: %+v", got)
	}
	r := httptest.NewRequest("GET", "/api.php?Command=Lists.Get&APIKey="+key, nil)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		ta.h.ServeHTTP(w, r)
		if w.Code != 200 {
			b.Fatal(w.Code, w.Body.String())
		}
	}
}
