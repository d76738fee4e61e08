// Package summary is the contract between the services that own a vehicle's state and the
// checkpoint that answers for it: each owning service keeps a compact per-plate "part" in Redis
// under a key this package builds, wrapped in an Envelope that says when it was made.
//
// Keys are "<prefix>{<plate>:<colour>}:<part>". The braces are a Redis Cluster hash tag: every
// part of one plate lands in the same slot, so the checkpoint reads them all with one MGET even
// on a cluster.
package summary

import (
	"encoding/json"
	"errors"
	"fmt"
	gojson "github.com/goccy/go-json"
	"time"
)

// Part names a service's share of the verdict.
type Part string

// The parts, one per owning service.
const (
	Registry      Part = "registry"
	RemoteSensing Part = "remotesensing"
	OBD           Part = "obd"
	Muck          Part = "muck"
)

// TTL is how long a part lives in Redis without being rewritten. Owners rewrite on every change
// and rebuild every part every ReconcileEvery, so expiry only bounds how long a forgotten entry,
// or one come back from an older copy of Redis, can linger.
const TTL = 6 * time.Hour

// ReconcileEvery is how often each owner rebuilds all of its parts from MongoDB even when Redis
// looks whole and current: it bounds how long anything the other checks miss (a rollback the
// generation counter did not catch, a lost write) can be served.
const ReconcileEvery = time.Hour

// Key is the Redis key of a plate's part. plateKey is vehicleid.Key(plate, colour).
func Key(prefix, plateKey string, p Part) string {
	return prefix + "{" + plateKey + "}:" + string(p)
}

// VINKey is the Redis key of the registry's status of a vehicle by VIN, which the services that
// know a vehicle by its VIN (the OBD gateway) read.
func VINKey(prefix, vin string) string { return prefix + "vin:" + vin + ":" + string(Registry) }

// ChangedChannel is the Redis pub/sub channel on which every writer of a part announces the
// plate key (vehicleid.Key) whose part it has just written or deleted, in the same pipeline
// and after the write. The checkpoint keeps recent reads in memory and drops a plate's on the
// announcement, so its next answer reflects the change.
func ChangedChannel(prefix string) string { return prefix + "parts:changed" }

// ErrUnknownPlate is an owner's answer that it does not know the plate (the registry's 404).
var ErrUnknownPlate = errors.New("owner does not know the plate")

// Envelope wraps a part's data with its freshness.
type Envelope struct {
	Part      Part            `json:"part"`
	UpdatedAt time.Time       `json:"updated_at"`
	Data      json.RawMessage `json:"data"`
}

// Encode wraps data for storage.
func Encode(p Part, at time.Time, data any) ([]byte, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("encode %s summary: %w", p, err)
	}
	return json.Marshal(Envelope{Part: p, UpdatedAt: at.UTC(), Data: raw})
}

// Decode unwraps a stored part.
func Decode(b []byte) (Envelope, error) {
	var e Envelope
	if err := json.Unmarshal(b, &e); err != nil {
		return Envelope{}, fmt.Errorf("decode summary: %w", err)
	}
	return e, nil
}

// MaxAge is the oldest part a reader uses. A part is rewritten on every change and lives TTL
// in Redis, so an older one can only come from a cache restored from an old copy.
const MaxAge = TTL

// Read is the readers' one rule (the checkpoint, muck, libs/vehicleinfo): it decodes a stored
// part as read from Redis (a string from GET or MGET; nil when the key is missing) and reports
// ok only for a part present, readable and younger than MaxAge at now. A missing, unreadable
// or stale part is unknown, never "nothing open": the reader asks the owner or says unknown.
func Read[T any](v any, now time.Time) (data T, at time.Time, ok bool) {
	var b []byte
	switch s := v.(type) {
	case string:
		b = []byte(s)
	case []byte:
		b = s
	default:
		return data, at, false
	}
	at, data, err := Open[T](b)
	if err != nil || at.IsZero() || now.Sub(at) > MaxAge {
		var zero T
		return zero, at, false
	}
	return data, at, true
}

// Open decodes a stored part straight into its data type, in one pass, returning when it was
// made. Readers on hot paths (the checkpoint) use it rather than Decode and a second Unmarshal.
func Open[T any](b []byte) (time.Time, T, error) {
	var e struct {
		UpdatedAt time.Time `json:"updated_at"`
		Data      T         `json:"data"`
	}
	if err := gojson.Unmarshal(b, &e); err != nil {
		return time.Time{}, e.Data, fmt.Errorf("decode summary: %w", err)
	}
	return e.UpdatedAt, e.Data, nil
}
