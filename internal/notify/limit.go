package notify

import (
	"cmp"
	"slices"
	"sync"
	"time"
)

// maxKinds bounds the alert kinds a limiter keeps apart; beyond it they
// share one bucket, "other".
const maxKinds = 1024

// limiter is a token bucket per alert kind, counting what it holds back.
type limiter struct {
	mu    sync.Mutex
	every time.Duration
	burst float64
	kinds map[string]*kindState
}

type kindState struct {
	tokens float64
	last   time.Time
	// What was held back since the last digest.
	count                   int
	since                   time.Time
	title, severity, sensor string
}

func newLimiter(every time.Duration, burst int) *limiter {
	return &limiter{every: every, burst: float64(burst), kinds: map[string]*kindState{}}
}

func (l *limiter) refill(st *kindState, now time.Time) {
	if now.After(st.last) {
		st.tokens = min(l.burst, st.tokens+float64(now.Sub(st.last))/float64(l.every))
		st.last = now
	}
}

// allow takes a token of a's kind, or counts a as held back.
func (l *limiter) allow(a Alert, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	key := a.key
	st := l.kinds[key]
	if st == nil {
		if len(l.kinds) >= maxKinds {
			key = "other"
			st = l.kinds[key]
		}
		if st == nil {
			st = &kindState{tokens: l.burst, last: now}
			l.kinds[key] = st
		}
	}
	l.refill(st, now)
	if st.tokens >= 1 {
		st.tokens--
		return true
	}
	if st.count == 0 {
		st.since = now
	}
	st.count++
	st.title, st.severity, st.sensor = a.Title, a.Severity, a.Sensor
	if key == "other" {
		st.title = "other alerts"
	}
	return false
}

// take returns what was held back since the last call, the most
// frequent first, and forgets kinds that have been quiet long enough to
// hold a full bucket again.
func (l *limiter) take(now time.Time) []DigestItem {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []DigestItem
	for k, st := range l.kinds {
		if st.count > 0 {
			out = append(out, DigestItem{Kind: k, Title: st.title, Severity: st.severity, Sensor: st.sensor,
				Count: st.count, Since: st.since})
			st.count = 0
			continue
		}
		l.refill(st, now)
		if st.tokens >= l.burst {
			delete(l.kinds, k)
		}
	}
	slices.SortFunc(out, func(a, b DigestItem) int {
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		return cmp.Compare(a.Kind, b.Kind)
	})
	return out
}
