package authn

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/keyward/keyward/captcha"
)

// Captcha.New is limited per client address, so that nobody fills the
// store with challenges.
const (
	captchasPerIP     = 60
	captchaDrawsPerIP = 120
	captchaRateWindow = 10 * time.Minute
)

// registerCaptcha registers Captcha.New, when the captcha is keyward's own
// (a host's hCaptcha or Turnstile makes its challenges elsewhere).
func (api *API) registerCaptcha() {
	if _, ok := api.a.captcha.(*captcha.Digits); ok {
		api.mustHandle("Captcha.New", Command{Public: true, Run: api.captchaNew})
	}
}

// captchaNew is Captcha.New: a new challenge's CaptchaID, and where its
// image and sound are (ImageURL, AudioURL).
func (api *API) captchaNew(c *Call) (Fields, error) {
	id, err := api.a.NewCaptcha(c.Context(), c.HTTP)
	if err != nil {
		return nil, err
	}
	base := strings.TrimSuffix(api.cfg.CaptchaURL, "/") + "/"
	return Fields{"CaptchaID": id, "ImageURL": base + id + ".png", "AudioURL": base + id + ".wav"}, nil
}

// NewCaptcha makes a captcha challenge for the client of r and returns its
// ID; [Authenticator.CaptchaHandler] serves its image (ID.png) and sound
// (ID.wav). Each client address may make 60 in 10 minutes
// ([*ThrottledError] after that). With a host's own [captcha.Checker] it
// is an error: that service makes its challenges itself.
func (a *Authenticator) NewCaptcha(ctx context.Context, r *http.Request) (string, error) {
	d, ok := a.captcha.(*captcha.Digits)
	if !ok {
		return "", errors.New("authn: NewCaptcha needs keyward's own captcha")
	}
	key := counterKey("captcha", ipKey(a.ClientIP(r)))
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
// .../<id>.wav); mount it where [APIConfig].CaptchaURL says. It is nil when
// the captcha is a host's own [captcha.Checker].
//
// Drawing an image or a sound costs CPU: each client address may fetch 120
// in 10 minutes (429 after that).
func (a *Authenticator) CaptchaHandler() http.Handler {
	d, ok := a.captcha.(*captcha.Digits)
	if !ok {
		return nil
	}
	h := d.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := counterKey("captcha-draw", ipKey(a.ClientIP(r)))
		n, reset, err := a.store.Increment(r.Context(), key, captchaRateWindow)
		switch {
		case err != nil:
			http.Error(w, "service unavailable", http.StatusServiceUnavailable)
			return
		case n > captchaDrawsPerIP:
			w.Header().Set("Retry-After", (&ThrottledError{RetryAfter: reset.Sub(a.cfg.Now())}).RetryAfterSeconds())
			http.Error(w, "too many requests", http.StatusTooManyRequests)
			return
		}
		h.ServeHTTP(w, r)
	})
}
