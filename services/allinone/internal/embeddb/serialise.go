package embeddb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
)

// FerretDB v1 runs an update as a query and then a write of the documents it computed, with
// nothing in between holding them (msg_update.go, msg_findandmodify.go: Query, then UpdateAll).
// Two writers of one document can both read it, and the later write then puts back the
// earlier state with its own change: a lost update. MongoDB applies each update atomically per
// document, and ClearSky's guarded writes (version filters, outbox claims) rely on it.
//
// serialiser stands in front of the embedded FerretDB and lets one write command through at a
// time, from its request until its reply: update, findAndModify, delete and insert. Reads pass
// freely. SQLite takes one writer at a time anyway, so this costs the all-in-one little; it
// makes every conditional write as atomic as it is on MongoDB.
type serialiser struct {
	backend string // the FerretDB's own address
	writes  sync.Mutex
	log     *slog.Logger
}

// Wire protocol (MongoDB's): a message is a 16-byte header (length, request id, the id it
// responds to, op code) and a body; an OP_MSG body is flag bits and sections, of which one of
// kind 0 is the command document, whose first key names the command.
const (
	headerLen  = 16
	opMsg      = 2013
	maxMessage = 48 << 20 // MongoDB's maxMessageSizeBytes
	moreToCome = 1 << 1
)

var writeCommands = map[string]bool{"update": true, "findAndModify": true, "findandmodify": true, "delete": true, "insert": true}

func (s *serialiser) serve(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				s.log.Warn("embedded_mongodb_accept_failed", "err", err.Error())
			}
			return
		}
		go s.pipe(c)
	}
}

// pipe carries one client connection to FerretDB: requests one way, replies the other, each
// write command holding the lock from the moment it is sent until its reply has come back.
func (s *serialiser) pipe(client net.Conn) {
	defer client.Close()
	server, err := net.Dial("tcp", s.backend)
	if err != nil {
		s.log.Warn("embedded_mongodb_dial_failed", "err", err.Error())
		return
	}
	defer server.Close()
	var mu sync.Mutex
	waiting := int32(0) // the request id of the write whose reply is awaited
	replied := make(chan struct{}, 1)
	gone := make(chan struct{}) // closed when the replies stop (FerretDB's side closed)
	go func() {
		defer close(gone)
		defer client.Close()
		defer server.Close()
		for {
			msg, err := readMessage(server)
			if err != nil {
				return
			}
			if _, err := client.Write(msg); err != nil {
				return
			}
			mu.Lock()
			if waiting != 0 && int32(binary.LittleEndian.Uint32(msg[8:12])) == waiting && !more(msg) {
				waiting = 0
				replied <- struct{}{}
			}
			mu.Unlock()
		}
	}()
	for {
		msg, err := readMessage(client)
		if err != nil {
			return
		}
		write := isWrite(msg)
		if !write {
			if _, err := server.Write(msg); err != nil {
				return
			}
			continue
		}
		s.writes.Lock()
		expectReply := !more(msg)
		if expectReply {
			mu.Lock()
			waiting = int32(binary.LittleEndian.Uint32(msg[4:8]))
			mu.Unlock()
		}
		_, err = server.Write(msg)
		if err == nil && expectReply {
			// The reply, or the connection's end: a write whose reply never comes must not hold
			// every other writer back.
			select {
			case <-replied:
			case <-gone:
				err = net.ErrClosed
			}
		}
		s.writes.Unlock()
		if err != nil {
			return
		}
	}
}

// readMessage reads one whole wire message.
func readMessage(r io.Reader) ([]byte, error) {
	var h [headerLen]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, err
	}
	n := int(binary.LittleEndian.Uint32(h[:4]))
	if n < headerLen || n > maxMessage {
		return nil, fmt.Errorf("embedded mongodb: a message of %d bytes", n)
	}
	msg := make([]byte, n)
	copy(msg, h[:])
	if _, err := io.ReadFull(r, msg[headerLen:]); err != nil {
		return nil, err
	}
	return msg, nil
}

// more says whether an OP_MSG has moreToCome set: no reply follows a request that has it, and
// more replies follow a reply that has it.
func more(msg []byte) bool {
	return binary.LittleEndian.Uint32(msg[12:16]) == opMsg && len(msg) >= headerLen+4 &&
		binary.LittleEndian.Uint32(msg[headerLen:headerLen+4])&moreToCome != 0
}

// isWrite says whether msg is an OP_MSG whose command is one of writeCommands.
func isWrite(msg []byte) bool {
	if binary.LittleEndian.Uint32(msg[12:16]) != opMsg {
		return false
	}
	b := msg[headerLen+4:]
	for len(b) > 0 {
		kind := b[0]
		b = b[1:]
		if len(b) < 4 {
			return false
		}
		size := int(binary.LittleEndian.Uint32(b[:4]))
		if size < 5 || size > len(b) {
			return false
		}
		if kind == 0 {
			return writeCommands[firstKey(b[:size])]
		}
		b = b[size:]
	}
	return false
}

// firstKey is the name of a BSON document's first element.
func firstKey(doc []byte) string {
	if len(doc) < 6 {
		return ""
	}
	name := doc[5:]
	for i, c := range name {
		if c == 0 {
			return string(name[:i])
		}
	}
	return ""
}
