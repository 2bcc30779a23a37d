package rungroup

import (
	"context"
	"fmt"
	"sync"
)

// Member is one long-lived part. It runs until ctx is cancelled or it fails,
// and it must return promptly once ctx is cancelled.
type Member func(ctx context.Context) error

type named struct {
	name string
	run  Member
}

// Group is a set of members started together by Run.
type Group struct {
	members []named
}

// Add registers a member under a name used in errors.
func (g *Group) Add(name string, m Member) {
	g.members = append(g.members, named{name: name, run: m})
}

// Run starts every member, waits for the first to return, cancels the rest
// and waits for them. It returns the first member's error, wrapped with its
// name, or nil if the first member returned nil (a clean stop, such as a
// signal handler returning).
func (g *Group) Run(ctx context.Context) error {
	if len(g.members) == 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	type result struct {
		name string
		err  error
	}
	results := make(chan result, len(g.members))
	var wg sync.WaitGroup
	for _, m := range g.members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results <- result{name: m.name, err: m.run(ctx)}
		}()
	}
	first := <-results
	cancel()
	wg.Wait()
	if first.err != nil {
		return fmt.Errorf("%s: %w", first.name, first.err)
	}
	return nil
}
