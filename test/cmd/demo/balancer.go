package main

import (
	"io"
	"net"
	"sync"
	"time"
)

// balancer stands in for the Kubernetes Service in front of the replicas'
// xDS ports: each connection from Envoy goes to the next replica that
// accepts it, so when the replica Envoy talks to dies, Envoy keeps its
// configuration, reconnects, and lands on a live replica.
type balancer struct {
	backends []string
	ln       net.Listener

	mu    sync.Mutex
	next  int
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func newBalancer(backends []string) *balancer {
	return &balancer{backends: backends, conns: map[net.Conn]struct{}{}}
}

func (b *balancer) start() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	b.ln = ln
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b.wg.Add(1)
			go func() {
				defer b.wg.Done()
				b.forward(c)
			}()
		}
	}()
	return nil
}

func (b *balancer) port() int { return b.ln.Addr().(*net.TCPAddr).Port }

// forward connects c to the first replica, from the next in turn, that
// accepts a connection, and copies bytes both ways until either side ends.
func (b *balancer) forward(c net.Conn) {
	var up net.Conn
	b.mu.Lock()
	start := b.next
	b.next = (b.next + 1) % len(b.backends)
	b.mu.Unlock()
	for i := range b.backends {
		addr := b.backends[(start+i)%len(b.backends)]
		var err error
		if up, err = net.DialTimeout("tcp", addr, time.Second); err == nil {
			break
		}
	}
	if up == nil {
		c.Close()
		return
	}
	if !b.track(c, up) {
		return
	}
	defer b.untrack(c, up)
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, up); done <- struct{}{} }()
	<-done
}

func (b *balancer) track(conns ...net.Conn) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.conns == nil { // stopped
		for _, c := range conns {
			c.Close()
		}
		return false
	}
	for _, c := range conns {
		b.conns[c] = struct{}{}
	}
	return true
}

func (b *balancer) untrack(conns ...net.Conn) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range conns {
		c.Close()
		delete(b.conns, c)
	}
}

func (b *balancer) stop() {
	b.ln.Close()
	b.mu.Lock()
	for c := range b.conns {
		c.Close()
	}
	b.conns = nil
	b.mu.Unlock()
	b.wg.Wait()
}
