//go:build linux

package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// bareBody is what the bare server answers every request with when not
// given Smallpot's answer (-subject bare).
const bareBody = "<html><body>OK</body></html>\r\n"

var bareResponse = []byte("HTTP/1.0 200 OK\r\nContent-Type: text/html\r\nContent-Length: " +
	fmt.Sprint(len(bareBody)) + "\r\nConnection: close\r\n\r\n" + bareBody)

// maxBareResponse bounds the answer the bare server is given.
const maxBareResponse = 64 << 10

// bareIdle is how long the bare server waits for a request, as Smallpot
// waits for its idle timeout.
const bareIdle = 5 * time.Minute

// runBare is the reference server, run in its own process so that its CPU
// time can be read apart from the load generator's: it accepts, reads the
// request once (up to 1 KiB, so that its close is a FIN and not a reset
// for unread data), writes a fixed response and closes — one goroutine per
// connection, as any Go server has. The response is the file respFile
// holds (Smallpot's answer to the harness's request), or bareResponse. It
// prints "ready ADDR" once it listens and stops on SIGTERM or SIGINT.
func runBare(addr, respFile string) error {
	if respFile != "" {
		b, err := os.ReadFile(respFile)
		if err != nil {
			return fmt.Errorf("bench: bare: %w", err)
		}
		if len(b) == 0 || len(b) > maxBareResponse {
			return fmt.Errorf("bench: bare: %s: %d bytes, want 1 to %d", respFile, len(b), maxBareResponse)
		}
		bareResponse = b
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("bench: bare: %w", err)
	}
	fmt.Printf("ready %s\n", ln.Addr())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	go func() {
		<-sig
		_ = ln.Close()
	}()
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		go bareServe(c)
	}
}

func bareServe(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(bareIdle))
	buf := make([]byte, 1024)
	if _, err := c.Read(buf); err != nil {
		return
	}
	_, _ = c.Write(bareResponse)
}
