package authn

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/keyward/keyward/captcha"
)

// Captchas are limited per client address, so that nobody fills the store
// with challenges or the CPU with drawing them.
const (
	captchasPerIP     = 60
	captchaDrawsPerIP = 120
	captchaRateWindow = 10 * time.Minute
)

// NewCaptcha makes a captcha challenge for the client of r and returns its
// ID, for a login to answer ([LoginRequest].CaptchaID);
// [Authenticator.CaptchaHandler] serves its image (ID.png) and sound
// (ID.wav). Each client address may make 60 in 10 minutes
// ([*ThrottledError] after that). With a host's own captcha.Checker it is
// an error wrapping errors.ErrUnsupported: that service makes its
// challenges itself.
func (a *Authenticator) NewCaptcha(ctx context.Context, r *http.Request) (string, error) {
	if err := a.made(); err != nil {
		return "", err
	}
	d, ok := a.captcha.(*captcha.Digits)
	if !ok {
		return "", fmt.Errorf("authn: NewCaptcha needs keyward's own captcha: %w", errors.ErrUnsupported)
	}
	key := counterKey("captcha", ipKey(a.clientAddr(r)))
	n, reset, err := a.store.Increment(ctx, key, captchaRateWindow)
	if err != nil {
		return "", storeFailure(err)
	}
	if n > captchasPerIP {
		return "", &ThrottledError{RetryAfter: reset.Sub(a.cfg.Now())}
	}
	id, err := d.New(ctx)
	if err != nil {
		return "", storeFailure(err)
	}
	return id, nil
}

// CaptchaHandler serves keyward's captcha images and sounds (.../<id>.png,
// .../<id>.wav); mount it where a command API's captcha URL says (command.Config.CaptchaURL). It is nil when
// the captcha is a host's own [captcha.Checker].
//
// Drawing an image or a sound costs CPU: each client address may fetch 120
// in 10 minutes (429 after that).
func (a *Authenticator) CaptchaHandler() http.Handler {
	if err := a.made(); err != nil {
		return notMade(err)
	}
	d, ok := a.captcha.(*captcha.Digits)
	if !ok {
		return nil
	}
	h := d.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := counterKey("captcha-draw", ipKey(a.clientAddr(r)))
		n, reset, err := a.store.Increment(r.Context(), key, captchaRateWindow)
		switch {
		case err != nil:
			http.Error(w, "service unavailable", http.StatusServiceUnavailable)
			return
		case n > captchaDrawsPerIP:
			w.Header().Set("Retry-After", retryAfterSeconds(reset.Sub(a.cfg.Now())))
			http.Error(w, "too many requests", http.StatusTooManyRequests)
			return
		}
		h.ServeHTTP(w, r)
	})
}
