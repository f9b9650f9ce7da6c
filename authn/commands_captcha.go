package authn

import (
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
	d := api.a.captcha.(*captcha.Digits)
	ctx := c.Context()
	key := counterKey("captcha", ipKey(api.a.ClientIP(c.HTTP)))
	n, reset, err := api.a.store.Increment(ctx, key, captchaRateWindow)
	if err != nil {
		return nil, storeFailure(err)
	}
	if n > captchasPerIP {
		return nil, &ThrottledError{RetryAfter: reset.Sub(api.a.cfg.Now())}
	}
	id, err := d.New(ctx)
	if err != nil {
		return nil, storeFailure(err)
	}
	base := strings.TrimSuffix(api.cfg.CaptchaURL, "/") + "/"
	return Fields{"CaptchaID": id, "ImageURL": base + id + ".png", "AudioURL": base + id + ".wav"}, nil
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
