package authn

import (
	"bytes"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
)

// Keys of other purposes are derived from the cookie key pairs
// ([Config].Keys), each with an HKDF label of its own, so that a
// configuration that gives only Keys (or none: random ones) has them
// all, every instance sharing Keys derives the same ones, and a derived
// key tells nothing of the pair it comes from nor of a key derived for
// another purpose. A label names its derivation: changing anything in it
// makes what was sealed or hashed before unreadable or different, so a new
// derivation takes a new label.
const (
	// tfaSealLabel derives the keys that seal TOTP secrets at rest.
	tfaSealLabel = "keyward totp seal v1"
	// logKeyLabel derives the key of the hashes that stand for unknown
	// usernames in events.
	logKeyLabel = "keyward log names v1"
)

// deriveKey returns the 32-byte key of label from pair: HKDF-SHA256 (RFC
// 5869, crypto/hkdf) with no salt (HKDF then uses 32 zero bytes; the pairs
// are random keys of 48 bytes or more, so extraction needs none), info
// label, over input key material that holds both keys of the pair, each
// after its length, so that pairs that concatenate to the same bytes stay
// apart:
//
//	uint32be(len(Hash)) || Hash || uint32be(len(Block)) || Block
//
// A pair with an empty Hash or Block is an error.
func deriveKey(pair KeyPair, label string) ([]byte, error) {
	if len(pair.Hash) == 0 || len(pair.Block) == 0 {
		return nil, errors.New("empty key")
	}
	ikm := make([]byte, 0, 8+len(pair.Hash)+len(pair.Block))
	ikm = binary.BigEndian.AppendUint32(ikm, uint32(len(pair.Hash)))
	ikm = append(ikm, pair.Hash...)
	ikm = binary.BigEndian.AppendUint32(ikm, uint32(len(pair.Block)))
	ikm = append(ikm, pair.Block...)
	defer clear(ikm)
	return hkdf.Key(sha256.New, ikm, nil, label, 32)
}

// tfaSealKeys returns the keys that seal TOTP secrets at rest
// (totp.Config.Keys), the first sealing, all opening: tfaKeys, if any are
// given, then one AES-256 key derived from each pair of keys, in the same
// order, so that a cookie key rotation rotates them too and a
// configuration without TFA.Keys still seals. With TFA.Keys given the
// derived keys only open: secrets sealed before TFA.Keys were set still
// open, and are sealed again with the first TFAKey at their owner's next
// login.
//
// No key at all is an error: this never falls back to storing secrets as
// they are.
func tfaSealKeys(keys []KeyPair, tfaKeys [][]byte) ([][]byte, error) {
	out := make([][]byte, 0, len(tfaKeys)+len(keys))
	for _, k := range tfaKeys {
		out = append(out, bytes.Clone(k))
	}
	for i, k := range keys {
		key, err := deriveKey(k, tfaSealLabel)
		if err != nil {
			return nil, fmt.Errorf("authn: deriving the TOTP seal key of Keys[%d]: %w", i, err)
		}
		out = append(out, key)
	}
	if len(out) == 0 {
		return nil, errors.New("authn: no keys to seal TOTP secrets with")
	}
	return out, nil
}

// newLogKey derives the key of [Authenticator.logName] from the first
// cookie key pair, so that every instance sharing the keys writes one
// name the same way.
func newLogKey(pair KeyPair) ([]byte, error) {
	key, err := deriveKey(pair, logKeyLabel)
	if err != nil {
		return nil, fmt.Errorf("authn: deriving the log key: %w", err)
	}
	return key, nil
}
