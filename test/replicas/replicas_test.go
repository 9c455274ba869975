package replicas

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// op is one completed change of a credential: from start to end the
// credential may or may not exist; after end it exists iff exists.
type op struct {
	start, end time.Time
	exists     bool
}

// exchangeResult is one token request as the load generator saw it.
type exchangeResult struct {
	sa         string
	replica    int
	start, end time.Time
	status     int
	code       int
	err        error
}

// expected says what the answer to a request sent at start and answered at
// end must be, given the credential's history: "ok", "refused" or "" when a
// change overlapped the request and either answer is right.
func expected(history []op, start, end time.Time) string {
	state := "refused" // no credential before the first change
	for _, o := range history {
		switch {
		case !o.end.Before(start) && o.start.Before(end):
			return "" // the change overlapped the request
		case o.end.Before(start):
			state = map[bool]string{true: "ok", false: "refused"}[o.exists]
		}
	}
	return state
}

// TestReplicasAgreeAtOnce spreads token requests over three replicas while
// credentials are created and deleted through them, and checks every answer
// against the credential set at that moment; then kills a replica mid-load.
func TestReplicasAgreeAtOnce(t *testing.T) {
	t.Parallel()
	c := newCluster(t, postgresURL(t), 3)
	s := c.setUp(c.replicas[0])
	sas := []string{"sa0", "sa1", "sa2", "sa3"}
	tokens := map[string]string{}
	for _, sa := range sas {
		tokens[sa] = c.saToken(c.replicas[0], s, sa)
	}

	var dead [3]atomic.Bool
	clients := make([]*http.Client, len(c.replicas))
	for i, r := range c.replicas {
		clients[i] = c.client(r, 20*time.Second)
	}
	live := func(i int) int { // the next live replica from i on
		for k := range len(c.replicas) {
			if j := (i + k) % len(c.replicas); !dead[j].Load() {
				return j
			}
		}
		return -1
	}

	var (
		histMu   sync.Mutex
		history  = map[string][]op{}
		writeErr []string
	)
	stop := make(chan struct{})
	var churn sync.WaitGroup
	churn.Go(func() {
		state := map[string]bool{}
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			sa := sas[i%len(sas)]
			r := live(i)
			start := time.Now()
			var status int
			var err error
			if state[sa] {
				status, err = c.deleteFIC(c.replicas[r], s, sa)
			} else {
				status, err = c.putFIC(c.replicas[r], s, sa)
			}
			end := time.Now()
			if err != nil && dead[r].Load() {
				// In flight to the replica being killed: the outcome is
				// unknown, so read what happened through a live replica.
				got, _, gerr := c.call(c.replicas[live(i+1)], "GET", ficPath(s, sa), nil)
				if gerr != nil || (got != 200 && got != 404) {
					histMu.Lock()
					writeErr = append(writeErr, fmt.Sprintf("read %s after a write to the killed replica: %d %v", sa, got, gerr))
					histMu.Unlock()
					return
				}
				state[sa] = got == 200
				histMu.Lock()
				history[sa] = append(history[sa], op{start: start, end: time.Now(), exists: state[sa]})
				histMu.Unlock()
				continue
			}
			if err != nil || (status != 200 && status != 201) {
				histMu.Lock()
				writeErr = append(writeErr, fmt.Sprintf("%s of %s via replica %d: %d %v", map[bool]string{true: "delete", false: "put"}[state[sa]], sa, r, status, err))
				// The outcome is unknown: record an open-ended change.
				history[sa] = append(history[sa], op{start: start, end: time.Now().Add(time.Hour), exists: !state[sa]})
				histMu.Unlock()
				return
			}
			state[sa] = !state[sa]
			histMu.Lock()
			history[sa] = append(history[sa], op{start: start, end: end, exists: state[sa]})
			histMu.Unlock()
			time.Sleep(time.Duration(rand.IntN(40)) * time.Millisecond)
		}
	})

	var (
		resMu   sync.Mutex
		results []exchangeResult
	)
	const workers = 6
	loadEnd := time.Now().Add(8 * time.Second)
	killAt := time.Now().Add(3 * time.Second)
	var load sync.WaitGroup
	for w := range workers {
		load.Go(func() {
			for i := w; time.Now().Before(loadEnd); i++ {
				r := live(i)
				sa := sas[rand.IntN(len(sas))]
				res := exchangeResult{sa: sa, replica: r, start: time.Now()}
				res.status, res.code, res.err = c.exchange(clients[r], s, tokens[sa])
				res.end = time.Now()
				resMu.Lock()
				results = append(results, res)
				resMu.Unlock()
			}
		})
	}
	time.Sleep(time.Until(killAt))
	killedAt := time.Now()
	dead[2].Store(true)
	c.stop(c.replicas[2], syscall.SIGKILL)
	load.Wait()
	close(stop)
	churn.Wait()

	if len(writeErr) > 0 {
		t.Errorf("writes failed: %v", writeErr)
	}
	var okCount, refusedCount, ambiguous int
	for _, r := range results {
		if r.err != nil || r.status >= 500 {
			if r.replica == 2 && !r.start.After(killedAt) {
				continue // in flight to the replica that was killed
			}
			t.Errorf("request to replica %d failed: status %d err %v", r.replica, r.status, r.err)
			continue
		}
		histMu.Lock()
		want := expected(history[r.sa], r.start, r.end)
		histMu.Unlock()
		got := "refused"
		if r.status == 200 {
			got = "ok"
		} else if r.status != 401 || (r.code != 700213 && r.code != 700211) {
			t.Errorf("replica %d answered %s with %d AADSTS%d", r.replica, r.sa, r.status, r.code)
			continue
		}
		switch want {
		case "":
			ambiguous++
		case got:
			if got == "ok" {
				okCount++
			} else {
				refusedCount++
			}
		default:
			t.Errorf("replica %d answered %s for %s at %s..%s; the credential set then says %s",
				r.replica, got, r.sa, r.start.Format("15:04:05.000"), r.end.Format("15:04:05.000"), want)
		}
	}
	t.Logf("%d exchanges: %d granted and %d refused as the credential set required, %d overlapped a change; %d credential changes",
		len(results), okCount, refusedCount, ambiguous, len(history["sa0"])+len(history["sa1"])+len(history["sa2"])+len(history["sa3"]))
	if okCount < 20 || refusedCount < 20 {
		t.Errorf("too few decisive exchanges to judge agreement (%d granted, %d refused)", okCount, refusedCount)
	}

	// No write is lost: every live replica reports the final credential set.
	for _, sa := range sas {
		h := history[sa]
		want := 404
		if len(h) > 0 && h[len(h)-1].exists {
			want = 200
		}
		for i := range 2 {
			status, _, err := c.call(c.replicas[i], "GET", ficPath(s, sa), nil)
			if err != nil || status != want {
				t.Errorf("replica %d: GET credential of %s = %d %v, want %d", i, sa, status, err, want)
			}
		}
	}
}
