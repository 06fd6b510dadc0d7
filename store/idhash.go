package store

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"

	"github.com/stickyacd/stickyacd/routing/idnumber"
)

// ErrEmptyIDHashKey: security.id_hash_key is not set. Without a key the
// stored hashes of ID numbers could be reversed by hashing every possible
// number, so start-up refuses to run.
var ErrEmptyIDHashKey = errors.New("security.id_hash_key is empty: ID numbers cannot be stored safely without a key")

// IDHasher turns ID numbers into the keyed hash stored in customers.id_hash.
// Make one with NewIDHasher.
type IDHasher struct {
	key []byte
}

// NewIDHasher returns a hasher for key; it refuses an empty key.
func NewIDHasher(key []byte) (IDHasher, error) {
	if len(key) == 0 {
		return IDHasher{}, ErrEmptyIDHashKey
	}
	return IDHasher{key: append([]byte(nil), key...)}, nil
}

// Hash returns the hex HMAC-SHA256 of the canonical number. It panics on a
// hasher not made by NewIDHasher: hashing with an empty key is the one thing
// it must never do quietly.
func (h IDHasher) Hash(n idnumber.Number) string {
	if len(h.key) == 0 {
		panic("store: IDHasher used without NewIDHasher")
	}
	m := hmac.New(sha256.New, h.key)
	m.Write([]byte(n.Reveal()))
	return hex.EncodeToString(m.Sum(nil))
}
