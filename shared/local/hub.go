package local

import (
	"context"
	"sync"
	"time"

	"github.com/backless/backless/shared/job"
)

var _ job.Hub = (*Hub)(nil)

// Hub is an in-process job.Hub: Publish hands events straight to the subscribers of the same process.
type Hub struct {
	buffer int

	mu   sync.Mutex
	subs map[string]map[*subscription]struct{}
}

// NewHub returns a hub whose subscriptions each hold up to buffer events (default 16 if buffer <= 0).
func NewHub(buffer int) *Hub {
	if buffer <= 0 {
		buffer = 16
	}
	return &Hub{buffer: buffer, subs: make(map[string]map[*subscription]struct{})}
}

// Publish delivers e to every current subscriber of e.JobID without blocking. A subscriber whose buffer is full
// loses its oldest event rather than the new one: events are states, and the latest (often the terminal one) is
// what a slow watcher needs.
func (h *Hub) Publish(ctx context.Context, e job.Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if e.At.IsZero() {
		e.At = time.Now().UTC()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	// Sending under the hub's lock is what makes this safe: a subscription's channel is only closed under it too.
	for s := range h.subs[e.JobID] {
		select {
		case s.events <- e:
			continue
		default:
		}
		select {
		case <-s.events:
		default:
		}
		select {
		case s.events <- e:
		default:
		}
	}
	return nil
}

// Subscribe registers a subscriber; it is in place when Subscribe returns. It ends when ctx is done or Close is
// called.
func (h *Hub) Subscribe(ctx context.Context, jobID string) (job.Subscription, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := &subscription{hub: h, jobID: jobID, events: make(chan job.Event, h.buffer), done: make(chan struct{})}
	h.mu.Lock()
	if h.subs[jobID] == nil {
		h.subs[jobID] = make(map[*subscription]struct{})
	}
	h.subs[jobID][s] = struct{}{}
	h.mu.Unlock()
	s.wg.Go(func() {
		select {
		case <-ctx.Done():
		case <-s.done:
		}
		h.remove(s)
	})
	return s, nil
}

func (h *Hub) remove(s *subscription) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if set, ok := h.subs[s.jobID]; ok {
		delete(set, s)
		if len(set) == 0 {
			delete(h.subs, s.jobID)
		}
	}
	close(s.events)
}

// subscribers counts the live subscriptions of a job (for tests).
func (h *Hub) subscribers(jobID string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs[jobID])
}

type subscription struct {
	hub    *Hub
	jobID  string
	events chan job.Event
	done   chan struct{}
	once   sync.Once
	wg     sync.WaitGroup
}

func (s *subscription) Events() <-chan job.Event { return s.events }

// Close unsubscribes; Events is closed when it returns.
func (s *subscription) Close() error {
	s.once.Do(func() { close(s.done) })
	s.wg.Wait()
	return nil
}
