package replicas

import (
	"io"
	"net"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"
)

// proxy forwards TCP to PostgreSQL and can cut every connection, standing
// for a database that goes away and comes back on the same address.
type proxy struct {
	t      *testing.T
	addr   string
	target string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	p := &proxy{t: t, target: target, conns: map[net.Conn]struct{}{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(func() { p.down(); p.wg.Wait() })
	return p
}

func (p *proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.DialTimeout("tcp", p.target, 2*time.Second)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns[c], p.conns[up] = struct{}{}, struct{}{}
			p.mu.Unlock()
			p.wg.Go(func() { io.Copy(up, c); up.Close(); c.Close() })
			p.wg.Go(func() { io.Copy(c, up); up.Close(); c.Close() })
		}
	})
}

// down closes the listener and every open connection.
func (p *proxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

// up listens again on the same address.
func (p *proxy) up() {
	p.t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatal(err)
	}
	p.serve(ln)
}

// TestDatabaseOutage cuts PostgreSQL away from two replicas: tokens keep
// being issued from memory, writes fail cleanly with 503 and leave nothing
// behind, and both replicas recover by themselves when it returns.
func TestDatabaseOutage(t *testing.T) {
	t.Parallel()
	base := postgresURL(t)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	p := newProxy(t, u.Host)
	u.Host = p.addr
	c := newCluster(t, u.String(), 2)
	s := c.setUp(c.replicas[0])
	tok0, tok1 := c.saToken(c.replicas[0], s, "sa0"), c.saToken(c.replicas[0], s, "sa1")
	if status, err := c.putFIC(c.replicas[0], s, "sa0"); err != nil || status != 201 {
		t.Fatalf("put credential: %d %v", status, err)
	}
	exchangeAll := func(tok string, want int) {
		t.Helper()
		for i, r := range c.replicas {
			status, code, err := c.exchange(c.client(r, 10*time.Second), s, tok)
			if err != nil || status != want {
				t.Fatalf("replica %d: exchange = %d AADSTS%d %v, want %d", i, status, code, err, want)
			}
		}
	}
	exchangeAll(tok0, 200)
	c.adminToken(c.replicas[0]) // cached: the outage does not need the token endpoint's store writes

	p.down()
	// Past the replicas' lease (3 s), tokens are still issued from memory.
	time.Sleep(4 * time.Second)
	exchangeAll(tok0, 200)
	exchangeAll(tok1, 401)

	// Writes fail cleanly, on every replica, without hanging.
	for i, r := range c.replicas {
		start := time.Now()
		status, body, err := c.call(r, "PUT", ficPath(s, "sa1"), map[string]any{"properties": map[string]any{
			"issuer": s.issuer, "subject": "system:serviceaccount:ns:sa1", "audiences": []string{"api://AzureADTokenExchange"}}})
		if err != nil || status != 503 {
			t.Fatalf("replica %d: write during the outage = %d %v %v, want 503", i, status, body, err)
		}
		if e, _ := body["error"].(map[string]any); e["code"] != "ServiceUnavailable" {
			t.Errorf("replica %d: 503 body %v, want code ServiceUnavailable", i, body)
		}
		if d := time.Since(start); d > 15*time.Second {
			t.Errorf("replica %d: the failed write took %v", i, d)
		}
	}

	p.up()
	// Both recover by themselves: writes succeed again and are seen at once.
	deadline := time.Now().Add(45 * time.Second)
	for {
		status, err := c.putFIC(c.replicas[1], s, "sa1")
		if err == nil && status == 201 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("writes did not recover: %d %v\nreplica logs:\n%s\n%s", status, err, c.replicas[0].log, c.replicas[1].log)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// From the moment the write returned, no replica answers from stale
	// memory: each grants the token, or refuses with 503 while it catches up.
	for i, r := range c.replicas {
		hc := c.client(r, 10*time.Second)
		deadline := time.Now().Add(30 * time.Second)
		for {
			status, code, err := c.exchange(hc, s, tok1)
			if err == nil && status == 200 {
				break
			}
			if err != nil || status != 503 || time.Now().After(deadline) {
				t.Fatalf("replica %d after the write that followed the outage: %d AADSTS%d %v; want 200, or 503 while catching up", i, status, code, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if !c.ready(r) {
			t.Errorf("replica %d not ready after the database returned", i)
		}
	}
	if os.Getenv("FEDCRED_TEST_VERBOSE") != "" {
		t.Logf("replica logs:\n%s\n%s", c.replicas[0].log, c.replicas[1].log)
	}
}
