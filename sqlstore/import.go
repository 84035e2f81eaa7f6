package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"yipanqi"
)

// DuplicateID is an ID number that occurs on more than one row of an import file. All its
// rows are rejected: nothing says which of them is right.
type DuplicateID struct {
	IDNumber string
	Rows     []int // 1-based data row numbers, ascending
}

// PeopleImport is a bulk upsert of people in progress: one connection and one transaction
// from BeginPeopleImport to Commit or Rollback. Rows are buffered in small batches and loaded
// into a temporary staging table, so memory stays flat whatever the size of the file; Commit
// merges staging into people with a few set-based statements. A PeopleImport is used by
// one goroutine.
type PeopleImport struct {
	db       *DB
	ctx      context.Context // for Add, which has none of its own
	conn     *sql.Conn
	tx       *sql.Tx
	ld       *loader
	buf      [][]any
	n        int // rows buffered in buf
	added    int
	rejected int
	actor    string
	fileName string
	started  time.Time
	err      error // the first load error; the import can only be rolled back after it
	done     bool
}

// BeginPeopleImport starts an import of people from the named file on behalf of actor.
// On SQLite the import holds the database's write lock until it ends, so other writers wait.
func (db *DB) BeginPeopleImport(ctx context.Context, actor, fileName string) (*PeopleImport, error) {
	if actor == "" {
		return nil, yipanqi.FieldErrorf(yipanqi.EINVALID, "actor", "导入缺少操作人")
	}
	conn, err := db.sql.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("begin import: %w", err)
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("begin import: %w", err)
	}
	im := &PeopleImport{db: db, ctx: ctx, conn: conn, tx: tx, actor: actor, fileName: fileName, started: db.now()}
	if err := db.dialect.tuneImport(ctx, tx); err != nil {
		im.Rollback()
		return nil, fmt.Errorf("begin import: %w", err)
	}
	if err := db.dialect.createStaging(ctx, tx); err != nil {
		im.Rollback()
		return nil, fmt.Errorf("begin import: %w", err)
	}
	im.ld = db.dialect.newLoader(tx, conn)
	im.buf = make([][]any, db.dialect.stagingBatch())
	for i := range im.buf {
		im.buf[i] = make([]any, len(stagingColumns))
	}
	return im, nil
}

// Add stages one validated row; row is its 1-based data row number in the file. A row that
// breaks the store's own rules (an ID number that is not 18 characters, a residence that is
// not a division code, …) is EINVALID naming the row and the field; other errors end the
// import, which can then only be rolled back.
func (im *PeopleImport) Add(row int, p *yipanqi.Person) error {
	if im.done {
		return errors.New("people import: add after commit or rollback")
	}
	if im.err != nil {
		return im.err
	}
	if err := checkPerson(row, p); err != nil {
		return err
	}
	r := im.buf[im.n]
	r[0], r[1], r[2], r[3], r[4], r[5] = row, p.IDNumber, p.Name, string(p.Sex), p.BirthDate, string(p.MaritalStatus)
	r[6], r[7], r[8], r[9], r[10], r[11] = p.HukouCode, p.HukouAddress, p.ResidenceCode, p.ResidenceAddress, p.Phone, p.ArrivedOn
	im.n++
	im.added++
	if im.n == len(im.buf) {
		return im.flush(im.ctx)
	}
	return nil
}

// CountRejected records that the file reader rejected n rows before they reached Add, so
// the imports record tells the whole outcome of the file.
func (im *PeopleImport) CountRejected(n int) { im.rejected += n }

func (im *PeopleImport) flush(ctx context.Context) error {
	if im.n == 0 {
		return nil
	}
	if err := im.ld.load(ctx, im.buf[:im.n]); err != nil {
		im.err = fmt.Errorf("people import: %w", err)
		return im.err
	}
	im.n = 0
	return nil
}

// checkPerson applies the rules the schema would otherwise enforce at Commit, where the row
// number is no longer at hand.
func checkPerson(row int, p *yipanqi.Person) error {
	switch {
	case len(p.IDNumber) != 18:
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "id_number", "第 %d 行：公民身份号码应为 18 位", row)
	case p.Name == "":
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "name", "第 %d 行：姓名不能为空", row)
	case p.Sex != yipanqi.Male && p.Sex != yipanqi.Female:
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "sex", "第 %d 行：性别应为男或女", row)
	case p.BirthDate.IsZero():
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "birth_date", "第 %d 行：出生日期不能为空", row)
	case !yipanqi.ValidDivisionCode(p.HukouCode):
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "hukou_code", "第 %d 行：户籍地区划代码无效", row)
	case !yipanqi.ValidDivisionCode(p.ResidenceCode):
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "residence_code", "第 %d 行：现居住地区划代码无效", row)
	}
	return nil
}

// The set-based statements of Commit, the same SQL on both databases. Only staged people
// that differ from what is held are updated, so a second import of the same file changes
// nothing.
const (
	// One pass over staging; the rows of duplicates are read (a second pass) only if any.
	importAnyDuplicates = `SELECT EXISTS (SELECT 1 FROM people_staging GROUP BY id_number HAVING COUNT(*) > 1)`
	importDuplicates    = `SELECT id_number, row_no FROM people_staging
		WHERE id_number IN (SELECT id_number FROM people_staging GROUP BY id_number HAVING COUNT(*) > 1)
		ORDER BY id_number, row_no`
	importDropDuplicates = `DELETE FROM people_staging
		WHERE id_number IN (SELECT id_number FROM people_staging GROUP BY id_number HAVING COUNT(*) > 1)`

	// Whether any staged person is already held; if not, the moved-on events, the update and
	// the insert's anti-join are skipped, which is one join instead of three.
	importOverlap = `SELECT EXISTS (SELECT 1 FROM people_staging s JOIN people p ON p.id_number = s.id_number)`

	// Before the update, while the old residence is still there to read.
	importMovedOn = `INSERT INTO flow_events (person_id, kind, on_date, from_code, to_code, note, recorded_at)
		SELECT p.id, 'moved_on', COALESCE(s.arrived_on, ?), p.residence_code, s.residence_code, '', ?
		FROM people_staging s JOIN people p ON p.id_number = s.id_number
		WHERE p.residence_code <> s.residence_code`

	importUpdate = `UPDATE people SET
			name = s.name, sex = s.sex, birth_date = s.birth_date, marital_status = s.marital_status,
			hukou_code = s.hukou_code, hukou_address = s.hukou_address,
			residence_code = s.residence_code, residence_address = s.residence_address,
			phone = s.phone, arrived_on = s.arrived_on,
			flow_status = CASE WHEN people.residence_code <> s.residence_code THEN 'moved_on' ELSE people.flow_status END,
			version = people.version + 1, updated_at = ?
		FROM people_staging s
		WHERE people.id_number = s.id_number AND (
			people.name <> s.name OR people.sex <> s.sex OR people.birth_date <> s.birth_date
			OR people.marital_status <> s.marital_status OR people.hukou_code <> s.hukou_code
			OR people.hukou_address <> s.hukou_address OR people.residence_code <> s.residence_code
			OR people.residence_address <> s.residence_address OR people.phone <> s.phone
			OR people.arrived_on IS DISTINCT FROM s.arrived_on)`

	// The new people; the arguments are created_at and updated_at. They go in in ID-number
	// order: a register file is in no useful order, and filling the unique index in key order
	// touches each index page once instead of jumping about the whole index for every row.
	importInsertHead = `INSERT INTO people (id_number, name, sex, birth_date, marital_status, hukou_code,
			hukou_address, residence_code, residence_address, phone, arrived_on, flow_status, version,
			created_at, updated_at)
		SELECT s.id_number, s.name, s.sex, s.birth_date, s.marital_status, s.hukou_code,
			s.hukou_address, s.residence_code, s.residence_address, s.phone, s.arrived_on, 'arrived', 1, ?, ?
		FROM people_staging s`
	importInsert    = importInsertHead + ` ORDER BY s.id_number`
	importInsertNew = importInsertHead + `
		WHERE NOT EXISTS (SELECT 1 FROM people p WHERE p.id_number = s.id_number) ORDER BY s.id_number`

	// The people this import created: ids above the highest id before it (ids only grow),
	// stamped with this import's creation time (which excludes any concurrent writer's).
	importArrived = `INSERT INTO flow_events (person_id, kind, on_date, from_code, to_code, note, recorded_at)
		SELECT id, 'arrived', COALESCE(arrived_on, ?), '', residence_code, '', ?
		FROM people WHERE id > ? AND created_at = ?`
)

// errStagedTwice says the optimistic insert met an ID number staged more than once.
var errStagedTwice = errors.New("an ID number is staged more than once")

// insertOptimistic inserts every staged row inside a savepoint. A unique violation (an ID
// number staged twice, or one a concurrent writer has just added) undoes it and returns
// errStagedTwice, so that the caller takes the path that finds duplicates first.
func (im *PeopleImport) insertOptimistic(ctx context.Context, qq q, now any) (int64, error) {
	if _, err := qq.exec(ctx, "SAVEPOINT import_insert"); err != nil {
		return 0, fmt.Errorf("insert people: %w", err)
	}
	res, err := qq.exec(ctx, importInsert, now, now)
	if err != nil {
		if qq.d.violation(err) != uniqueViolation {
			return 0, fmt.Errorf("insert people: %w", qq.d.classify(err))
		}
		if _, err := qq.exec(ctx, "ROLLBACK TO SAVEPOINT import_insert"); err != nil {
			return 0, fmt.Errorf("insert people: %w", err)
		}
		return 0, errStagedTwice
	}
	if _, err := qq.exec(ctx, "RELEASE SAVEPOINT import_insert"); err != nil {
		return 0, fmt.Errorf("insert people: %w", err)
	}
	return res.RowsAffected()
}

// Commit merges the staged rows into people and commits: ID numbers staged more than once
// are rejected with all their rows and returned; new people are inserted (version 1, status
// arrived, with an arrived flow event); people whose record differs are updated (version+1,
// and a moved_on flow event when the residence changed); identical rows are left alone. It
// records the import in imports and the audit log. On any error nothing is written.
func (im *PeopleImport) Commit(ctx context.Context) (yipanqi.ImportStats, []DuplicateID, error) {
	var stats yipanqi.ImportStats
	if im.done {
		return stats, nil, errors.New("people import: commit after commit or rollback")
	}
	dups, err := im.commit(ctx, &stats)
	if err != nil {
		im.Rollback()
		return yipanqi.ImportStats{}, nil, fmt.Errorf("people import: %w", err)
	}
	return stats, dups, nil
}

func (im *PeopleImport) commit(ctx context.Context, stats *yipanqi.ImportStats) ([]DuplicateID, error) {
	if im.err != nil {
		return nil, im.err
	}
	if err := im.flush(ctx); err != nil {
		return nil, err
	}
	if err := im.ld.finish(); err != nil {
		return nil, fmt.Errorf("load staging: %w", err)
	}
	db, d := im.db, im.db.dialect
	qq := q{d, im.tx}
	now := db.now()
	nowArg, today := d.timeArg(now), yipanqi.DateOf(now.In(yipanqi.Shanghai))
	var maxID int64
	if err := qq.row(ctx, "SELECT COALESCE(MAX(id), 0) FROM people").Scan(&maxID); err != nil {
		return nil, fmt.Errorf("highest person id: %w", err)
	}
	var overlap bool
	if maxID > 0 {
		if err := qq.row(ctx, importOverlap).Scan(&overlap); err != nil {
			return nil, fmt.Errorf("find held people: %w", err)
		}
	}
	var (
		dups              []DuplicateID
		dupRows           int
		inserted, updated int64
		err               error
	)
	if !overlap {
		// None of the staged people is held, so the unique index on id_number can only
		// object to an ID number staged twice: insert optimistically, without a pass over
		// staging for duplicates, and fall back to the full path only if it objects.
		inserted, err = im.insertOptimistic(ctx, qq, nowArg)
		if errors.Is(err, errStagedTwice) {
			overlap = true // not held, but the full path finds the duplicates
		} else if err != nil {
			return nil, err
		}
	}
	if overlap {
		if dups, dupRows, err = im.duplicates(ctx, qq); err != nil {
			return nil, err
		}
		if len(dups) > 0 {
			if _, err := qq.exec(ctx, importDropDuplicates); err != nil {
				return nil, fmt.Errorf("drop duplicates: %w", err)
			}
		}
		if _, err := qq.exec(ctx, importMovedOn, today, nowArg); err != nil {
			return nil, fmt.Errorf("moved-on events: %w", err)
		}
		res, err := qq.exec(ctx, importUpdate, nowArg)
		if err != nil {
			return nil, fmt.Errorf("update people: %w", d.classify(err))
		}
		if updated, err = res.RowsAffected(); err != nil {
			return nil, err
		}
		res, err = qq.exec(ctx, importInsertNew, nowArg, nowArg)
		if err != nil {
			return nil, fmt.Errorf("insert people: %w", d.classify(err))
		}
		if inserted, err = res.RowsAffected(); err != nil {
			return nil, err
		}
	}
	if _, err := qq.exec(ctx, importArrived, today, nowArg, maxID, nowArg); err != nil {
		return nil, fmt.Errorf("arrived events: %w", err)
	}
	stats.Imported, stats.Updated = int(inserted), int(updated)
	stats.Same = im.added - dupRows - stats.Imported - stats.Updated
	rejected := im.rejected + dupRows
	if _, err := qq.exec(ctx, `INSERT INTO imports (file_name, actor, started_at, finished_at, imported, updated, same, rejected)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, im.fileName, im.actor, d.timeArg(im.started), nowArg,
		stats.Imported, stats.Updated, stats.Same, rejected); err != nil {
		return nil, fmt.Errorf("record import: %w", err)
	}
	var unit string
	if err := qq.row(ctx, "SELECT org_unit FROM users WHERE username = ?", im.actor).Scan(&unit); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("actor's unit: %w", err)
	}
	if err := db.audit(ctx, qq, &yipanqi.AuditEntry{
		At: now, Actor: im.actor, OrgUnit: unit, Action: "people.import", Object: im.fileName,
		Reason: fmt.Sprintf("新增 %d，更新 %d，未变 %d，拒绝 %d", stats.Imported, stats.Updated, stats.Same, rejected),
	}); err != nil {
		return nil, err
	}
	if err := d.dropStaging(ctx, im.tx); err != nil {
		return nil, fmt.Errorf("drop staging: %w", err)
	}
	im.ld.close()
	if err := im.tx.Commit(); err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	im.done = true
	im.conn.Close()
	return dups, nil
}

// duplicates returns the ID numbers staged more than once and how many rows they cover.
func (im *PeopleImport) duplicates(ctx context.Context, qq q) ([]DuplicateID, int, error) {
	var found bool
	if err := qq.row(ctx, importAnyDuplicates).Scan(&found); err != nil || !found {
		if err != nil {
			err = fmt.Errorf("find duplicates: %w", err)
		}
		return nil, 0, err
	}
	rows, err := qq.query(ctx, importDuplicates)
	if err != nil {
		return nil, 0, fmt.Errorf("find duplicates: %w", err)
	}
	defer rows.Close()
	var dups []DuplicateID
	n := 0
	for rows.Next() {
		var id string
		var row int
		if err := rows.Scan(&id, &row); err != nil {
			return nil, 0, fmt.Errorf("find duplicates: %w", err)
		}
		if len(dups) == 0 || dups[len(dups)-1].IDNumber != id {
			dups = append(dups, DuplicateID{IDNumber: id})
		}
		dups[len(dups)-1].Rows = append(dups[len(dups)-1].Rows, row)
		n++
	}
	return dups, n, rows.Err()
}

// Rollback abandons the import; nothing it staged is written. It is safe after Commit and
// more than once.
func (im *PeopleImport) Rollback() error {
	if im.done {
		return nil
	}
	im.done = true
	if im.ld != nil {
		im.ld.close()
	}
	err := im.tx.Rollback()
	if errors.Is(err, sql.ErrTxDone) {
		err = nil
	}
	im.conn.Close()
	return err
}
