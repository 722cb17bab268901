package download

import (
	"container/list"
	"sync"
	"time"
)

// lru remembers up to size URLs for ttl each; the least recently added
// goes first when it is full.
type lru struct {
	mu   sync.Mutex
	size int
	ttl  time.Duration
	ll   *list.List // of *lruEntry, newest first
	m    map[string]*list.Element
}

type lruEntry struct {
	key   string
	added time.Time
}

func newLRU(size int, ttl time.Duration) *lru {
	return &lru{size: size, ttl: ttl, ll: list.New(), m: make(map[string]*list.Element, min(size, 1024))}
}

// add remembers key and reports whether it was new (or forgotten).
func (c *lru) add(key string, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.m[key]; ok {
		e := el.Value.(*lruEntry)
		if now.Sub(e.added) < c.ttl {
			return false
		}
		e.added = now
		c.ll.MoveToFront(el)
		return true
	}
	c.m[key] = c.ll.PushFront(&lruEntry{key: key, added: now})
	for c.ll.Len() > c.size {
		old := c.ll.Back()
		c.ll.Remove(old)
		delete(c.m, old.Value.(*lruEntry).key)
	}
	return true
}

// remove forgets key.
func (c *lru) remove(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.m[key]; ok {
		c.ll.Remove(el)
		delete(c.m, key)
	}
}

// bucket is a token bucket: rate tokens a second, at most burst held.
type bucket struct {
	mu     sync.Mutex
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
}

func newBucket(rate float64, burst int, now time.Time) *bucket {
	return &bucket{rate: rate, burst: float64(burst), tokens: float64(burst), last: now}
}

// reserve takes a token and returns how long to wait before using it:
// zero when one was there. Reservations are served in order.
func (b *bucket) reserve(now time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	if now.After(b.last) {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
		b.last = now
	}
	b.tokens--
	if b.tokens >= 0 {
		return 0
	}
	return time.Duration(-b.tokens / b.rate * float64(time.Second))
}
