package authn

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// argon2Params are the cost of an argon2id password hash, as
// [PasswordConfig] gives them and every hash string records them.
type argon2Params struct {
	// Memory in KiB.
	Memory uint32
	// Iterations (passes over memory).
	Iterations uint32
	// Parallelism (lanes).
	Parallelism uint8
	// SaltLength and KeyLength in bytes.
	SaltLength uint32
	KeyLength  uint32
}

// Bounds on parameters, ours and those read from a stored hash, so that a
// corrupt or hostile hash string cannot make verification allocate
// gigabytes or spin for minutes.
const (
	maxArgonMemory     = 1 << 20 // KiB: 1 GiB
	maxArgonIterations = 64
	maxPasswordBytes   = 1024
)

func (p argon2Params) validate() error {
	switch {
	case p.Memory < 8*uint32(p.Parallelism) || p.Memory > maxArgonMemory:
		return fmt.Errorf("authn: Passwords.Memory %d KiB out of range", p.Memory)
	case p.Iterations < 1 || p.Iterations > maxArgonIterations:
		return fmt.Errorf("authn: Passwords.Iterations %d out of range", p.Iterations)
	case p.Parallelism < 1:
		return errors.New("authn: Passwords.Parallelism must be at least 1")
	case p.SaltLength < 16 || p.SaltLength > 64:
		return fmt.Errorf("authn: Passwords.SaltLength %d out of range [16, 64]", p.SaltLength)
	case p.KeyLength < 16 || p.KeyLength > 64:
		return fmt.Errorf("authn: Passwords.KeyLength %d out of range [16, 64]", p.KeyLength)
	}
	return nil
}

// errHashFormat is a stored hash keyward cannot read. It is not a store
// failure: the login fails as if the password were wrong, and the log says
// why.
var errHashFormat = errors.New("authn: unrecognised password hash")

// hasher hashes and verifies passwords, at most cap(sem) at a time.
type hasher struct {
	params argon2Params
	rand   io.Reader
	sem    chan struct{}
	dummy  string // a hash of a random password, verified for unknown users
}

func newHasher(params argon2Params, rand io.Reader, concurrency int) (*hasher, error) {
	h := &hasher{params: params, rand: rand, sem: make(chan struct{}, concurrency)}
	pw := make([]byte, 32)
	if _, err := io.ReadFull(rand, pw); err != nil {
		return nil, fmt.Errorf("authn: making the dummy hash: %w", err)
	}
	dummy, err := h.hash(context.Background(), string(pw))
	if err != nil {
		return nil, err
	}
	h.dummy = dummy
	return h, nil
}

// acquire waits for a hashing slot or for ctx to end.
func (h *hasher) acquire(ctx context.Context) error {
	select {
	case h.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *hasher) release() { <-h.sem }

// hash returns the argon2id hash string of password in the PHC format:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>.
func (h *hasher) hash(ctx context.Context, password string) (string, error) {
	salt := make([]byte, h.params.SaltLength)
	if _, err := io.ReadFull(h.rand, salt); err != nil {
		return "", fmt.Errorf("authn: reading salt: %w", err)
	}
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	p := h.params
	key := argon2.IDKey([]byte(password), salt, p.Iterations, p.Memory, p.Parallelism, p.KeyLength)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Iterations, p.Parallelism,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// verify reports whether password matches encoded, and whether encoded
// should be replaced by a hash with the current parameters (it is bcrypt,
// or argon2id with other parameters). A hash it cannot read is
// errHashFormat.
func (h *hasher) verify(ctx context.Context, encoded, password string) (ok, rehash bool, err error) {
	if len(password) > maxPasswordBytes {
		// Verify anyway so the answer takes as long; then refuse.
		_, _, err := h.verify(ctx, encoded, password[:maxPasswordBytes])
		return false, false, err
	}
	switch {
	case strings.HasPrefix(encoded, "$argon2id$"):
		return h.verifyArgon2(ctx, encoded, password)
	case strings.HasPrefix(encoded, "$2a$"), strings.HasPrefix(encoded, "$2b$"), strings.HasPrefix(encoded, "$2y$"):
		if err := h.acquire(ctx); err != nil {
			return false, false, err
		}
		defer h.release()
		err := bcrypt.CompareHashAndPassword([]byte(encoded), []byte(password))
		switch {
		case err == nil:
			return true, true, nil
		case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword), errors.Is(err, bcrypt.ErrPasswordTooLong):
			return false, false, nil
		}
		return false, false, errHashFormat
	}
	return false, false, errHashFormat
}

func (h *hasher) verifyArgon2(ctx context.Context, encoded, password string) (ok, rehash bool, err error) {
	p, salt, key, err := parseArgon2(encoded)
	if err != nil {
		return false, false, err
	}
	if err := h.acquire(ctx); err != nil {
		return false, false, err
	}
	defer h.release()
	got := argon2.IDKey([]byte(password), salt, p.Iterations, p.Memory, p.Parallelism, uint32(len(key)))
	if subtle.ConstantTimeCompare(got, key) != 1 {
		return false, false, nil
	}
	cur := h.params
	rehash = p.Memory != cur.Memory || p.Iterations != cur.Iterations || p.Parallelism != cur.Parallelism ||
		uint32(len(salt)) != cur.SaltLength || uint32(len(key)) != cur.KeyLength
	return true, rehash, nil
}

// parseArgon2 reads a PHC argon2id string, refusing parameters outside the
// bounds above.
func parseArgon2(encoded string) (p argon2Params, salt, key []byte, err error) {
	parts := strings.Split(encoded, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, key
	if len(parts) != 6 || parts[1] != "argon2id" {
		return p, nil, nil, errHashFormat
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return p, nil, nil, errHashFormat
	}
	var par uint32
	if n, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Iterations, &par); err != nil || n != 3 {
		return p, nil, nil, errHashFormat
	}
	if par < 1 || par > 255 || p.Memory < 8*par || p.Memory > maxArgonMemory || p.Iterations < 1 || p.Iterations > maxArgonIterations {
		return p, nil, nil, errHashFormat
	}
	p.Parallelism = uint8(par)
	if salt, err = base64.RawStdEncoding.Strict().DecodeString(parts[4]); err != nil || len(salt) < 8 {
		return p, nil, nil, errHashFormat
	}
	if key, err = base64.RawStdEncoding.Strict().DecodeString(parts[5]); err != nil || len(key) < 16 || len(key) > 128 {
		return p, nil, nil, errHashFormat
	}
	p.SaltLength, p.KeyLength = uint32(len(salt)), uint32(len(key))
	return p, salt, key, nil
}
