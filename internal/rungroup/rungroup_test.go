package rungroup

import (
	"context"
	"errors"
	"testing"
)

func blockUntilCancelled(stopped *bool) Member {
	return func(ctx context.Context) error {
		<-ctx.Done()
		*stopped = true
		return nil
	}
}

func TestFirstErrorStopsOthers(t *testing.T) {
	var stopped bool
	boom := errors.New("boom")
	var g Group
	g.Add("waiter", blockUntilCancelled(&stopped))
	g.Add("failer", func(context.Context) error { return boom })
	err := g.Run(context.Background())
	if !errors.Is(err, boom) || err.Error() != "failer: boom" {
		t.Fatalf("Run = %v, want failer: boom", err)
	}
	if !stopped {
		t.Fatal("the other member was not stopped")
	}
}

func TestNilReturnStopsOthers(t *testing.T) {
	var stopped bool
	var g Group
	g.Add("waiter", blockUntilCancelled(&stopped))
	g.Add("quitter", func(context.Context) error { return nil })
	if err := g.Run(context.Background()); err != nil {
		t.Fatalf("Run = %v, want nil", err)
	}
	if !stopped {
		t.Fatal("the other member was not stopped")
	}
}

func TestParentCancelStopsAll(t *testing.T) {
	var a, b bool
	var g Group
	g.Add("a", blockUntilCancelled(&a))
	g.Add("b", blockUntilCancelled(&b))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := g.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if !a || !b {
		t.Fatal("members not stopped")
	}
}

func TestEmptyGroup(t *testing.T) {
	var g Group
	if err := g.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
}
