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
func (a *Authenticator) CaptchaHandler() http.Handler {
	if d, ok := a.captcha.(*captcha.Digits); ok {
		return d.Handler()
	}
	return nil
}
