package command

import "strings"

// registerCaptcha registers Captcha.New. With a host's own captcha checker
// (hCaptcha, Turnstile: it makes its challenges elsewhere) it answers as
// an unknown command.
func (api *API) registerCaptcha() {
	api.mustHandle("Captcha.New", Command{Public: true, Run: api.captchaNew})
}

// captchaNew is Captcha.New: a new challenge's CaptchaID, and where its
// image and sound are (ImageURL, AudioURL).
func (api *API) captchaNew(c *Call) (Fields, error) {
	id, err := api.auth.NewCaptcha(c.Context(), c.HTTP)
	if err != nil {
		return nil, unsupported(err)
	}
	base := strings.TrimSuffix(api.cfg.CaptchaURL, "/") + "/"
	return Fields{"CaptchaID": id, "ImageURL": base + id + ".png", "AudioURL": base + id + ".wav"}, nil
}
