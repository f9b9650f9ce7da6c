package authn

import (
	"context"

	"github.com/keyward/keyward/authn/event"
)

// Emit reports e to [Config].OnEvent and to [Config].Logger (at
// e.Level()), stamping its Time when it has none: for commands and a
// host's own code, whose events belong beside keyward's.
func (a *Authenticator) Emit(ctx context.Context, e event.Event) {
	if a.made() != nil {
		return // nowhere to report it
	}
	if e.Time.IsZero() {
		e.Time = a.cfg.Now()
	}
	if a.cfg.OnEvent != nil {
		a.cfg.OnEvent(ctx, e)
	}
	level := e.Level()
	if !a.cfg.Logger.Enabled(ctx, level) {
		return
	}
	a.cfg.Logger.LogAttrs(ctx, level, "keyward "+string(e.Kind), e.Attrs()...)
}
