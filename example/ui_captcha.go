package main

import (
	"errors"
	"net/http"
)

// captchaView is a challenge on the login page.
type captchaView struct {
	ID       string
	ImageURL string
	AudioURL string
}

// errNoCaptcha is a challenge that could not be made: too many from this
// address, or the store failed.
var errNoCaptcha = errors.New("example: no captcha challenge")

// newCaptcha makes a captcha challenge for the login page; its image and
// sound are served by [authn.Authenticator.CaptchaHandler] under /captcha/.
func (u *ui) newCaptcha(r *http.Request) (*captchaView, error) {
	id, err := u.auth.NewCaptcha(r.Context(), r)
	if err != nil {
		return nil, errNoCaptcha
	}
	return &captchaView{ID: id, ImageURL: "/captcha/" + id + ".png", AudioURL: "/captcha/" + id + ".wav"}, nil
}
