package authn

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/securecookie"

	"github.com/keyward/keyward/authn/event"
)

// etokenPrefix starts every etoken, so that one is recognisable in an
// Authorization header and by secret scanners.
const etokenPrefix = "kwe_"

// etokenName binds an etoken's MAC to its purpose: the same keys sign the
// session cookie, under another name, and neither passes for the other.
const etokenName = "keyward-etoken"

// etoken payload: the session ID, the issue time in milliseconds, a nonce.
const (
	etokenNonceLen   = 16
	etokenPayloadLen = sessionIDLen + 8 + etokenNonceLen
	// etokenMaxBytes bounds a token before it is decoded; ours are about
	// 180 bytes.
	etokenMaxBytes = 512
	// etokenSkew is how far in the future an issue time may be, for clocks
	// of instances that do not quite agree.
	etokenSkew = time.Second
)

// Reasons an etoken is refused, for the log; the client gets one answer.
var (
	errETokenEncoding = because(ErrInvalidCredential, "etoken does not decode (tampered, truncated, wrong key or not base64)")
	errETokenPayload  = because(ErrInvalidCredential, "etoken payload malformed")
	errETokenExpired  = because(ErrInvalidCredential, "etoken expired")
	errETokenFuture   = because(ErrInvalidCredential, "etoken issued in the future")
	errETokenReused   = because(ErrInvalidCredential, "etoken already used")
	errNotBearer      = because(ErrInvalidCredential, "Authorization is not a keyward Bearer etoken")
)

// newETokenCodecs makes the securecookie codecs of etokens, on the same
// keys as the cookie: the first pair encodes, every pair decodes.
func newETokenCodecs(cfg Config) []securecookie.Codec {
	// securecookie's own age check, on the real clock and in whole
	// seconds, is a backstop; the validity is checked on cfg.Now, in ms.
	maxAge := int((cfg.EToken.Validity + time.Minute).Seconds())
	codecs := make([]securecookie.Codec, len(cfg.Keys))
	for i, k := range cfg.Keys {
		codecs[i] = securecookie.New(k.Hash, k.Block).
			SetSerializer(securecookie.NopEncoder{}).
			MaxAge(maxAge).
			MaxLength(etokenMaxBytes)
	}
	return codecs
}

// issueEToken returns an etoken for the session ID: the ID, the time and
// a random nonce, encrypted and authenticated with [Config].Keys. It is
// good for [ETokenConfig].Validity, once (unless [ETokenConfig].Reuse), as a
// Bearer credential, and dies with the session it carries.
func (a *Authenticator) issueEToken(id Secret) (Secret, error) {
	if _, ok := sessionHash(id.Reveal()); !ok {
		return Secret{}, errors.New("authn: issueEToken: not a session ID")
	}
	nonce, err := a.random(etokenNonceLen)
	if err != nil {
		return Secret{}, err
	}
	payload := make([]byte, 0, etokenPayloadLen)
	payload = append(payload, id.Reveal()...)
	payload = binary.BigEndian.AppendUint64(payload, uint64(a.cfg.Now().UnixMilli()))
	payload = append(payload, nonce...)
	enc, err := a.etokenCodecs[0].Encode(etokenName, payload)
	if err != nil {
		return Secret{}, err
	}
	return Secret{value: etokenPrefix + enc}, nil
}

// resolveBearer resolves an etoken in "Authorization: Bearer kwe_...".
// Another scheme, or a Bearer token without the kwe_ prefix, is left to the
// host's other middleware (errNoCredential), unless
// [ETokenConfig].StrictBearer.
func (a *Authenticator) resolveBearer(ctx context.Context, r *Request, p *Principal) error {
	var auth string
	switch hs := r.HTTP.Header["Authorization"]; len(hs) {
	case 0:
		return errNoCredential
	case 1:
		auth = hs[0]
	default:
		return because(ErrBadRequest, "header Authorization given more than once")
	}
	scheme, token, _ := strings.Cut(auth, " ")
	token = strings.TrimSpace(token)
	if !strings.EqualFold(scheme, "Bearer") || !strings.HasPrefix(token, etokenPrefix) {
		if a.cfg.EToken.StrictBearer {
			return errNotBearer
		}
		return errNoCredential
	}
	id, err := a.redeemEToken(ctx, r, token)
	if err != nil {
		return err
	}
	*p, err = a.principalForSession(ctx, r, hashCredential(id), MethodEToken)
	if err == nil && a.cfg.EToken.SetsCookie {
		r.etokenSession = id
	}
	return err
}

// redeemEToken decodes and checks a token and returns the session ID it
// carries: within its validity, and (unless reuse is allowed) claimed for
// the first time, in the store, across instances.
func (a *Authenticator) redeemEToken(ctx context.Context, r *Request, token string) (string, error) {
	enc := token[len(etokenPrefix):]
	if len(enc) > etokenMaxBytes {
		return "", errETokenEncoding
	}
	var payload []byte
	if err := securecookie.DecodeMulti(etokenName, enc, &payload, a.etokenCodecs...); err != nil {
		return "", errETokenEncoding
	}
	if len(payload) != etokenPayloadLen {
		return "", errETokenPayload
	}
	id := string(payload[:sessionIDLen])
	issued := time.UnixMilli(int64(binary.BigEndian.Uint64(payload[sessionIDLen:])))
	nonce := payload[sessionIDLen+8:]
	now := r.now()
	switch {
	case issued.After(now.Add(etokenSkew)):
		return "", errETokenFuture
	case now.Sub(issued) > a.cfg.EToken.Validity:
		return "", errETokenExpired
	}
	if !a.cfg.EToken.Reuse {
		// The claim outlives the token, so a replay inside the window
		// always finds it.
		sum := sha256.Sum256(nonce)
		first, err := a.store.Claim(ctx, "keyward:etoken:"+hex.EncodeToString(sum[:16]), a.cfg.EToken.Validity+etokenSkew+time.Minute)
		if err != nil {
			return "", storeFailure(err)
		}
		if !first {
			return "", errETokenReused
		}
	}
	return id, nil
}

// handOnCookie sets the session cookie for a session whose etoken was just
// redeemed, when [ETokenConfig].SetsCookie asks for the browser hand-off.
func (a *Authenticator) handOnCookie(w http.ResponseWriter, r *Request) {
	if r.etokenSession == "" {
		return
	}
	if err := a.setSessionCookie(w, r.HTTP, Secret{value: r.etokenSession}); err != nil {
		a.Emit(r.HTTP.Context(), event.Event{Kind: event.StoreFailed, Reason: "setting the cookie from an etoken", Err: err})
	}
}
