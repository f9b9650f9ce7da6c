package event_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/keyward/keyward/authn/event"
	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
)

// A host's hook (authn.Config.OnEvent) counts failed logins by reason and
// logs every event as keyward does, at its level.
func Example() {
	failures := map[string]int{}
	log := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{} // for a stable output
			}
			return a
		},
	}))
	onEvent := func(ctx context.Context, e event.Event) {
		if e.Kind == event.LoginFailed {
			failures[e.Reason]++
		}
		log.LogAttrs(ctx, e.Level(), "keyward "+string(e.Kind), e.Attrs()...)
	}

	onEvent(context.Background(), event.Event{Kind: event.LoginFailed, Account: store.AccountRef{Scope: scopes.User}, Username: "?3f9a0c21d4e5b6a7", Reason: "unknown username", ClientIP: "192.0.2.7"})
	onEvent(context.Background(), event.Event{Kind: event.LoginOK, Account: store.AccountRef{Scope: scopes.User, ID: 1}, Username: "ada", Method: "password"})
	fmt.Println(failures)
	// Output:
	// level=WARN msg="keyward login_failed" event=login_failed scope=user username=?3f9a0c21d4e5b6a7 reason="unknown username" client_ip=192.0.2.7
	// level=INFO msg="keyward login_ok" event=login_ok scope=user account_id=1 username=ada method=password
	// map[unknown username:1]
}
