package storetest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"yipanqi"
	"yipanqi/sqlstore"
)

// testAuditSealer checks the audit sealer on one store: writers in several goroutines while
// sealers run leave one chain without fork or gap, every entry keeps the content and id it
// was written with, and tampering with sealed entries shows while changing an unsealed one
// before it is sealed cannot (docs/storage.md, "Audit chain").
func testAuditSealer(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	t.Run("ConcurrentWriters", func(t *testing.T) {
		db := open(t)
		written := writeConcurrently(t, []*sqlstore.DB{db}, 6, 20)
		checkSealedChain(t, db, written)
	})
	t.Run("TwoSealersAtOnce", func(t *testing.T) {
		db := open(t)
		written := writeUnsealed(t, db, 300)
		raceSealers(t, db, db, len(written))
		checkSealedChain(t, db, written)
	})
	t.Run("ChangedSealedEntry", func(t *testing.T) {
		db := open(t)
		written := writeUnsealed(t, db, 5)
		mustSeal(t, db, 5)
		target := written[2]
		if err := Tamper(db, "UPDATE audit_log SET object = 'x' WHERE id = ?", target.ID); err != nil {
			t.Fatal(err)
		}
		wantBroken(t, db, target.ID)
	})
	t.Run("RemovedSealedEntry", func(t *testing.T) {
		db := open(t)
		written := writeUnsealed(t, db, 5)
		mustSeal(t, db, 5)
		if err := Tamper(db, "DELETE FROM audit_log WHERE id = ?", written[2].ID); err != nil {
			t.Fatal(err)
		}
		wantBroken(t, db, written[3].ID) // the entry after the gap no longer links
		// The newest entry removed: the head still names it.
		db2 := open(t)
		written = writeUnsealed(t, db2, 3)
		mustSeal(t, db2, 3)
		if err := Tamper(db2, "DELETE FROM audit_log WHERE id = ?", written[2].ID); err != nil {
			t.Fatal(err)
		}
		if _, err := db2.VerifyAudit(ctx()); yipanqi.ErrorCode(err) != yipanqi.EINTERNAL {
			t.Fatalf("verify after removing the newest sealed entry: %v; want EINTERNAL", err)
		}
	})
	t.Run("UnsealedEntryChangedThenSealed", func(t *testing.T) {
		// Before it is sealed an entry has no hash to betray a change (the window the sealer
		// interval bounds); once sealed, the changed content is what the chain protects.
		db := open(t)
		written := writeUnsealed(t, db, 3)
		if err := Tamper(db, "UPDATE audit_log SET reason = 'changed' WHERE id = ?", written[1].ID); err != nil {
			t.Fatal(err)
		}
		if n, err := db.VerifyAudit(ctx()); err != nil || n != 3 {
			t.Fatalf("verify = %d, %v; want the 3 entries sealed as they stood", n, err)
		}
		if err := Tamper(db, "UPDATE audit_log SET reason = 'again' WHERE id = ?", written[1].ID); err != nil {
			t.Fatal(err)
		}
		wantBroken(t, db, written[1].ID)
	})
	t.Run("NotSealedInWritingTx", func(t *testing.T) {
		db := open(t)
		written := writeUnsealed(t, db, 2)
		if n, err := db.UnsealedAudit(ctx()); err != nil || n != len(written) {
			t.Fatalf("unsealed = %d, %v; want %d before any sealer ran", n, err, len(written))
		}
		mustSeal(t, db, 2)
		if n, err := db.SealAudit(ctx()); err != nil || n != 0 {
			t.Fatalf("second seal = %d, %v; want nothing left to seal", n, err)
		}
	})
}

// RunAuditSealerShared checks the audit sealer with two store handles on the database named
// by dsn, as two processes or two serve replicas share one PostgreSQL database: writers on
// both with a sealer running on each leave one chain, and two sealers started at once on
// the two handles seal every entry exactly once.
func RunAuditSealerShared(t *testing.T, dsn string) {
	a, b := Open(t, dsn), Open(t, dsn)
	written := writeConcurrently(t, []*sqlstore.DB{a, b}, 3, 20)
	checkSealedChain(t, b, written)
	more := writeUnsealed(t, a, 200)
	raceSealers(t, a, b, len(more))
	checkSealedChain(t, a, append(written, more...))
}

// writeConcurrently writes perWriter rounds from writers goroutines on each store, half of
// them as single Audit calls and half as InTx transactions with two entries, while every
// store runs its sealer every millisecond and writers seal now and then too. It returns the
// entries written, with their ids.
func writeConcurrently(t *testing.T, dbs []*sqlstore.DB, writers, perWriter int) []*yipanqi.AuditEntry {
	t.Helper()
	sealCtx, stopSealers := context.WithCancel(context.Background())
	var sealers sync.WaitGroup
	sealErrs := make(chan error, 100)
	for _, db := range dbs {
		sealers.Add(1)
		go func() {
			defer sealers.Done()
			db.RunAuditSealer(sealCtx, time.Millisecond, func(err error) {
				select {
				case sealErrs <- err:
				default:
				}
			})
		}()
	}
	var mu sync.Mutex
	var written []*yipanqi.AuditEntry
	var wg sync.WaitGroup
	errs := make(chan error, len(dbs)*writers)
	for d, db := range dbs {
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range perWriter {
					obj := fmt.Sprintf("db%d-w%d-%d", d, w, i)
					var mine []*yipanqi.AuditEntry
					var err error
					if i%2 == 0 {
						e := &yipanqi.AuditEntry{Actor: "writer", Action: "person.view", Object: obj}
						err = db.Audit(ctx(), e)
						mine = append(mine, e)
					} else {
						err = db.InTx(ctx(), func(tx *sqlstore.Tx) error {
							for k := range 2 {
								e := &yipanqi.AuditEntry{Actor: "writer", Action: "case.sent", Object: obj, Reason: fmt.Sprint(k)}
								if err := tx.Audit(ctx(), e); err != nil {
									return err
								}
								mine = append(mine, e)
							}
							return nil
						})
					}
					if err == nil && i%7 == 3 {
						_, err = db.SealAudit(ctx())
					}
					if err != nil {
						errs <- fmt.Errorf("%s: %w", obj, err)
						return
					}
					mu.Lock()
					written = append(written, mine...)
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	stopSealers()
	sealers.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("writer: %v", err)
	}
	select {
	case err := <-sealErrs:
		t.Fatalf("sealer: %v", err)
	default:
	}
	return written
}

// writeUnsealed writes n entries with no sealer running and returns them.
func writeUnsealed(t *testing.T, db *sqlstore.DB, n int) []*yipanqi.AuditEntry {
	t.Helper()
	var out []*yipanqi.AuditEntry
	err := db.InTx(ctx(), func(tx *sqlstore.Tx) error {
		for i := range n {
			e := &yipanqi.AuditEntry{Actor: "writer", Action: "case.received", Object: fmt.Sprint("o", i)}
			if err := tx.Audit(ctx(), e); err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("write %d entries: %v", n, err)
	}
	for i := 1; i < len(out); i++ {
		if out[i].ID <= out[i-1].ID {
			t.Fatalf("entry %d has id %d after %d; want ids in the order written", i, out[i].ID, out[i-1].ID)
		}
	}
	return out
}

// raceSealers starts SealAudit on a and on b at the same moment and checks that together
// they sealed want entries.
func raceSealers(t *testing.T, a, b *sqlstore.DB, want int) {
	t.Helper()
	start := make(chan struct{})
	var wg sync.WaitGroup
	var got [2]int
	var errs [2]error
	for i, db := range []*sqlstore.DB{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			got[i], errs[i] = db.SealAudit(ctx())
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("sealer %d: %v", i, err)
		}
	}
	if got[0]+got[1] != want {
		t.Fatalf("two sealers sealed %d + %d entries; want %d in all", got[0], got[1], want)
	}
}

func mustSeal(t *testing.T, db *sqlstore.DB, want int) {
	t.Helper()
	if n, err := db.SealAudit(ctx()); err != nil || n != want {
		t.Fatalf("seal = %d, %v; want %d", n, err, want)
	}
}

// checkSealedChain seals what is left and checks that the chain holds exactly the entries
// written, each once, as written, and verifies.
func checkSealedChain(t *testing.T, db *sqlstore.DB, written []*yipanqi.AuditEntry) {
	t.Helper()
	if _, err := db.SealAudit(ctx()); err != nil {
		t.Fatalf("final seal: %v", err)
	}
	if n, err := db.UnsealedAudit(ctx()); err != nil || n != 0 {
		t.Fatalf("unsealed after sealing = %d, %v; want 0", n, err)
	}
	n, err := db.VerifyAudit(ctx())
	if err != nil || n != len(written) {
		t.Fatalf("verify = %d, %v; want one unbroken chain of the %d entries written", n, err, len(written))
	}
	log, err := db.AuditLog(ctx(), "", len(written)+10)
	if err != nil {
		t.Fatal(err)
	}
	byID := make(map[int64]*yipanqi.AuditEntry, len(log))
	for _, e := range log {
		byID[e.ID] = e
	}
	if len(byID) != len(written) {
		t.Fatalf("audit log holds %d entries; want %d", len(byID), len(written))
	}
	for _, w := range written {
		got := byID[w.ID]
		if got == nil || got.Object != w.Object || got.Action != w.Action || got.Reason != w.Reason ||
			!got.At.Equal(w.At) || got.Hash == "" {
			t.Fatalf("entry %d = %+v; want %+v, sealed", w.ID, got, w)
		}
	}
}

// wantBroken checks that VerifyAudit fails naming entry id.
func wantBroken(t *testing.T, db *sqlstore.DB, id int64) {
	t.Helper()
	_, err := db.VerifyAudit(ctx())
	if yipanqi.ErrorCode(err) != yipanqi.EINTERNAL {
		t.Fatalf("verify after tampering: %v; want EINTERNAL", err)
	}
	if !strings.Contains(yipanqi.ErrorMessage(err), itoa(id)) {
		t.Fatalf("verify error %q does not name entry %d", yipanqi.ErrorMessage(err), id)
	}
}
