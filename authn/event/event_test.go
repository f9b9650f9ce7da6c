package event_test

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/keyward/keyward/authn/event"
	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
)

// Each kind has its level, and an event logs what it holds, nothing empty.
func TestLevelAndAttrs(t *testing.T) {
	t.Parallel()
	for kind, want := range map[event.Kind]slog.Level{
		event.LoginOK: slog.LevelInfo, event.LoginFailed: slog.LevelWarn, event.LockedOut: slog.LevelWarn,
		event.CaptchaDemanded: slog.LevelWarn, event.Refused: slog.LevelWarn,
		event.StoreFailed: slog.LevelError, event.CommandFailed: slog.LevelError,
	} {
		if got := (event.Event{Kind: kind}).Level(); got != want {
			t.Errorf("%s: level %v, want %v", kind, got, want)
		}
	}
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	e := event.Event{Kind: event.StoreFailed, Account: store.AccountRef{Scope: scopes.User, ID: 7},
		Actor: store.AccountRef{Scope: scopes.Admin, ID: 1}, Count: 2, Err: errors.New("connection refused")}
	log.LogAttrs(t.Context(), e.Level(), "keyward "+string(e.Kind), e.Attrs()...)
	got := buf.String()
	for _, want := range []string{"event=store_failed", "scope=user", "account_id=7", "actor=admin:1", "count=2", `error="connection refused"`} {
		if !strings.Contains(got, want) {
			t.Errorf("log %q lacks %q", got, want)
		}
	}
	for _, absent := range []string{"username=", "method=", "reason=", "client_ip="} {
		if strings.Contains(got, absent) {
			t.Errorf("log %q has an empty %q", got, absent)
		}
	}
}
