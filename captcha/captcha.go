package captcha

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"strings"
	"time"

	dchest "github.com/dchest/captcha"

	"github.com/keyward/keyward/store"
)

// Checker verifies a captcha answer.
type Checker interface {
	// Check reports whether r answers its challenge, using the challenge
	// up: a second check of the same challenge fails. An unknown or
	// expired challenge is false, not an error; an error means the
	// checker could not tell (its service is down), and the login fails
	// closed.
	Check(ctx context.Context, r Response) (bool, error)
}

// Response is what a client answered.
type Response struct {
	// ID names the challenge (the CaptchaID parameter). Services that
	// carry it inside their token (hCaptcha, Turnstile) leave it empty.
	ID string
	// Answer is the solution or the service's token (the Captcha
	// parameter).
	Answer string
	// RemoteIP is the client's address, for services that want it.
	RemoteIP string
}

// Config configures [Digits]. Store is required.
type Config struct {
	// Store keeps the challenges. Required.
	Store store.Challenges
	// Length is the number of digits. Default 6.
	Length int
	// TTL is how long a challenge can be answered. Default 10 minutes.
	TTL time.Duration
	// Width and Height of the image in pixels. Default 240 by 80.
	Width, Height int
	// Language of the audio ("en", "ja", "ru", "zh", "pt"). Default "en".
	Language string
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Rand is the source of challenge IDs. Default crypto/rand.Reader.
	// (The digits come from dchest/captcha's RandomDigits, which reads
	// crypto/rand.)
	Rand io.Reader
}

// Digits is the default [Checker]: digits drawn by dchest/captcha. Make
// one with [New]: a Digits made otherwise (a zero or nil one) answers
// errors, and its handler 503.
type Digits struct {
	cfg Config
}

// errNotMade is what a Digits that [New] did not make answers: it has no
// store.
var errNotMade = errors.New("captcha: Digits not made by New")

// ready returns errNotMade for a Digits that New did not make.
func (d *Digits) ready() error {
	if d == nil || d.cfg.Store == nil {
		return errNotMade
	}
	return nil
}

// New returns a Digits on cfg.
func New(cfg Config) (*Digits, error) {
	if cfg.Store == nil {
		return nil, errors.New("captcha: Config.Store is required")
	}
	if cfg.Length == 0 {
		cfg.Length = 6
	}
	if cfg.TTL == 0 {
		cfg.TTL = 10 * time.Minute
	}
	if cfg.Width == 0 {
		cfg.Width = 240
	}
	if cfg.Height == 0 {
		cfg.Height = 80
	}
	if cfg.Language == "" {
		cfg.Language = "en"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	switch {
	case cfg.Length < 4 || cfg.Length > 10:
		return nil, fmt.Errorf("captcha: Length %d out of range [4, 10]", cfg.Length)
	case cfg.TTL < 0:
		return nil, errors.New("captcha: negative TTL")
	case cfg.Width < 100 || cfg.Height < 40 || cfg.Width > 2000 || cfg.Height > 1000:
		return nil, fmt.Errorf("captcha: image size %dx%d out of range", cfg.Width, cfg.Height)
	}
	return &Digits{cfg: cfg}, nil
}

// idLen is the length of a challenge ID: 20 symbols of 62, about 119 bits,
// as dchest/captcha makes them.
const idLen = 20

const idChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// New makes a challenge and returns its ID.
func (d *Digits) New(ctx context.Context) (string, error) {
	if err := d.ready(); err != nil {
		return "", err
	}
	id, err := d.newID()
	if err != nil {
		return "", err
	}
	c := store.Challenge{ID: id, Digits: dchest.RandomDigits(d.cfg.Length), ExpiresAt: d.cfg.Now().Add(d.cfg.TTL)}
	if err := d.cfg.Store.PutChallenge(ctx, c); err != nil {
		return "", fmt.Errorf("captcha: %w", err)
	}
	return id, nil
}

// newID returns a random challenge ID.
func (d *Digits) newID() (string, error) {
	b := make([]byte, 0, idLen)
	var buf [32]byte
	for len(b) < idLen {
		if _, err := io.ReadFull(d.cfg.Rand, buf[:]); err != nil {
			return "", fmt.Errorf("captcha: reading an ID: %w", err)
		}
		for _, x := range buf {
			if x >= 248 { // 248 = 4 * 62: keep the symbols uniform
				continue
			}
			b = append(b, idChars[x%62])
			if len(b) == idLen {
				break
			}
		}
	}
	return string(b), nil
}

// validID reports whether id could be one of ours, before any store is
// asked.
func validID(id string) bool {
	if len(id) != idLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if strings.IndexByte(idChars, id[i]) < 0 {
			return false
		}
	}
	return true
}

// Check uses up the challenge r.ID and reports whether r.Answer is its
// digits. Spaces in the answer are ignored; anything but digits is wrong.
func (d *Digits) Check(ctx context.Context, r Response) (bool, error) {
	if err := d.ready(); err != nil {
		return false, err
	}
	if !validID(r.ID) {
		return false, nil
	}
	c, err := d.cfg.Store.TakeChallenge(ctx, r.ID)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("captcha: %w", err)
	}
	answer := strings.ReplaceAll(r.Answer, " ", "")
	if len(answer) != len(c.Digits) {
		return false, nil
	}
	for i := range c.Digits {
		if answer[i] != '0'+c.Digits[i] {
			return false, nil
		}
	}
	return true, nil
}

// Handler serves the challenges' images and sounds: GET .../<id>.png and
// .../<id>.wav, whatever the prefix it is mounted under. Drawing does not
// use a challenge up; checking does. Unknown and expired IDs are 404.
func (d *Digits) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name := path.Base(r.URL.Path)
		id, ext, _ := strings.Cut(name, ".")
		if !validID(id) || (ext != "png" && ext != "wav") {
			http.NotFound(w, r)
			return
		}
		if d.ready() != nil {
			http.Error(w, "service unavailable", http.StatusServiceUnavailable)
			return
		}
		c, err := d.cfg.Store.Challenge(r.Context(), id)
		switch {
		case errors.Is(err, store.ErrNotFound):
			http.NotFound(w, r)
			return
		case err != nil:
			http.Error(w, "service unavailable", http.StatusServiceUnavailable)
			return
		}
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		if ext == "png" {
			h.Set("Content-Type", "image/png")
			_, _ = dchest.NewImage(id, c.Digits, d.cfg.Width, d.cfg.Height).WriteTo(w)
			return
		}
		a := dchest.NewAudio(id, c.Digits, d.cfg.Language)
		h.Set("Content-Type", "audio/x-wav")
		h.Set("Content-Length", fmt.Sprint(a.EncodedLen()))
		_, _ = a.WriteTo(w)
	})
}
