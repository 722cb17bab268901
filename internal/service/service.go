// Package service is the contract between Smallpot's engine and its fake
// protocols.
//
// A protocol is a Handler (TCP) and/or a PacketHandler (UDP) registered
// from its package's init with Register. The engine owns everything about
// a connection's life — listeners, deadlines, byte budgets, caps, panic
// recovery, connect and close events, the transcript — so a protocol only
// speaks its protocol: it reads from s.Reader(), writes to s, and records
// what it learned with s.Emit and s.SaveSample.
package service

import (
	"context"
	"errors"
)

// Handler serves one TCP session. It returns when the session is over;
// the engine then closes the connection. ctx is cancelled when the session
// must end (shutdown, maximum duration); reads and writes on s also fail
// then, so a handler blocked in I/O returns promptly.
type Handler interface {
	ServeTCP(ctx context.Context, s *Session)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, s *Session)

// ServeTCP calls f.
func (f HandlerFunc) ServeTCP(ctx context.Context, s *Session) { f(ctx, s) }

// PacketHandler serves one UDP datagram. p.Data is a copy the handler may
// keep. Replies go through p.Reply, which enforces the engine's
// anti-amplification rules.
type PacketHandler interface {
	ServePacket(ctx context.Context, p *Packet)
}

// PacketHandlerFunc adapts a function to PacketHandler.
type PacketHandlerFunc func(ctx context.Context, p *Packet)

// ServePacket calls f.
func (f PacketHandlerFunc) ServePacket(ctx context.Context, p *Packet) { f(ctx, p) }

// Errors the engine's I/O returns to handlers.
var (
	// ErrLineTooLong is returned by Reader.ReadLine when a line exceeds
	// its bound; the bytes returned with it are the first max bytes.
	ErrLineTooLong = errors.New("line too long")
	// ErrBudget is returned by reads and writes once the session's byte
	// budget in that direction is spent.
	ErrBudget = errors.New("session byte budget exhausted")
	// ErrReplyTooLarge is returned by Packet.Reply for a reply larger than
	// the engine allows for that request.
	ErrReplyTooLarge = errors.New("reply larger than request: refused (no amplification)")
	// ErrRateLimited is returned by Packet.Reply when the source has had
	// its share of replies.
	ErrRateLimited = errors.New("reply rate limit for this source")
)
