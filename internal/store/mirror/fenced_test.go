package mirror_test

import (
	"context"
	"testing"
	"time"

	"github.com/fedcred/fedcred/internal/store/mirror"
)

func TestFenced(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	alone, err := mirror.New(ctx, mirror.Config{Backend: openSQLite(t)})
	if err != nil {
		t.Fatal(err)
	}
	if alone.Fenced() {
		t.Error("a mirror without replicas is fenced")
	}

	coord := &fakeCoordinator{fenced: true}
	m, err := mirror.New(ctx, mirror.Config{Backend: openSQLite(t), Coordinator: coord, Lease: 150 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if !m.Fenced() {
		t.Error("a replica that has not registered is not fenced")
	}
	go m.Run(ctx)
	coord.set(func(f *fakeCoordinator) { f.unfenceOK = true })
	waitFor(t, "the replica is unfenced", func() bool { return !m.Fenced() })
	coord.set(func(f *fakeCoordinator) { f.fenced, f.unfenceOK = true, false })
	waitFor(t, "a writer's fence shows", m.Fenced)
	if m.Serving() {
		t.Error("a fenced replica serves")
	}
}
