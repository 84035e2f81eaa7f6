package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"yipanqi"
)

// The region's directory (docs/directory.md). Each source province's entries are one
// versioned set: ReplaceProvinceDirectory swaps the whole set in one transaction, and only for
// a greater version, so a node that receives versions twice or out of order ends up with the
// newest, and a reader never sees half of one.

// directoryColumns are the entry columns in the order entryArgs and scanEntry use.
var directoryColumns = []string{"province", "seq", "kind", "division_code", "level", "division_name",
	"name", "doc_number", "issued_on", "status", "url", "body", "services", "role", "person_name",
	"job_title", "phone", "address", "note"}

// directoryRowsPerInsert keeps a multi-row INSERT (19 values a row) well below the variables a
// statement may have.
const directoryRowsPerInsert = 500

// Directory page sizes.
const (
	defaultDirectoryLimit = 100
	maxDirectoryLimit     = 1000
)

// ReplaceProvinceDirectory makes entries the directory of the province v.Province at version
// v.Version, in one transaction with its audit entry: the province's earlier entries are gone,
// each entry gets the province and its position (Seq, from 1) in the order given. v.UpdatedAt
// is when the source province made the version (now when zero). EINVALID, naming the entry
// and its field, for a bad province, version or entry (nothing is changed); ECONFLICT when the
// node already holds this version of the province's directory or a newer one.
func (db *DB) ReplaceProvinceDirectory(ctx context.Context, v yipanqi.DirectoryVersion, entries []yipanqi.DirectoryEntry) error {
	if err := checkProvince(v.Province); err != nil {
		return err
	}
	if v.Version <= 0 {
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "version", "名录版本号应为正整数，而不是 %d", v.Version)
	}
	for i := range entries {
		if errs := entries[i].Check(v.Province); len(errs) > 0 {
			e := errs[0]
			return yipanqi.FieldErrorf(yipanqi.EINVALID, e.Field, "名录第 %d 条（%s）：%s", i+1, entries[i].Kind.Label(), e.Message)
		}
	}
	now := db.now()
	if v.UpdatedAt.IsZero() {
		v.UpdatedAt = now
	}
	actor, unit := actorFrom(ctx)
	return db.inTx(ctx, func(qq q) error {
		// One statement decides: a province seen for the first time is inserted, a held one is
		// moved on only to a greater version. On PostgreSQL the row lock makes a concurrent
		// replacement wait and then find the version it must exceed.
		var got string
		err := qq.row(ctx, `INSERT INTO directory_versions (province, version, updated_at, entries, received_at)
			VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (province) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at,
				entries = excluded.entries, received_at = excluded.received_at
			WHERE directory_versions.version < excluded.version
			RETURNING province`, v.Province, v.Version, db.dialect.timeArg(v.UpdatedAt), len(entries),
			db.dialect.timeArg(now)).Scan(&got)
		if errors.Is(err, sql.ErrNoRows) {
			var held int64
			if err := qq.row(ctx, "SELECT version FROM directory_versions WHERE province = ?", v.Province).Scan(&held); err != nil {
				return fmt.Errorf("directory version %s: %w", v.Province, err)
			}
			return yipanqi.FieldErrorf(yipanqi.ECONFLICT, "version",
				"本节点已有 %s 省名录第 %d 版，不能用第 %d 版替换：版本号须大于现有版本", v.Province, held, v.Version)
		}
		if err != nil {
			return fmt.Errorf("directory version %s: %w", v.Province, db.dialect.classify(err))
		}
		if _, err := qq.exec(ctx, "DELETE FROM directory_entries WHERE province = ?", v.Province); err != nil {
			return fmt.Errorf("directory: delete old entries of %s: %w", v.Province, err)
		}
		for lo := 0; lo < len(entries); lo += directoryRowsPerInsert {
			chunk := entries[lo:min(lo+directoryRowsPerInsert, len(entries))]
			args := make([]any, 0, len(chunk)*len(directoryColumns))
			for i := range chunk {
				args = append(args, entryArgs(v.Province, lo+i+1, &chunk[i])...)
			}
			if _, err := qq.exec(ctx, multiInsert("directory_entries", directoryColumns, len(chunk)), args...); err != nil {
				return fmt.Errorf("directory: insert entries of %s: %w", v.Province, db.dialect.classify(err))
			}
		}
		// Names and phones of officials stay out of the audit log as out of every log: the
		// entry says which version of which province came in, and how many entries it had.
		return db.audit(ctx, qq, &yipanqi.AuditEntry{
			At: now, Actor: actor, OrgUnit: unit, Action: "directory.replace",
			Object: fmt.Sprintf("directory:%s@%d", v.Province, v.Version),
			Reason: fmt.Sprintf("%d 条", len(entries)),
		})
	})
}

func entryArgs(province string, seq int, e *yipanqi.DirectoryEntry) []any {
	code := e.DivisionCode
	if code == "" {
		code = province // a regulation without a division is the province's own
	}
	return []any{province, seq, string(e.Kind), code, int(yipanqi.LevelOf(code)), e.DivisionName,
		strings.TrimSpace(e.Name), e.DocNumber, e.IssuedOn, string(e.Status), e.URL, e.Text, e.Services,
		string(e.Role), e.PersonName, e.JobTitle, e.Phone, e.Address, e.Note}
}

func checkProvince(p string) error {
	if yipanqi.LevelOf(p) != yipanqi.LevelProvince {
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "province", "省份代码“%s”无效：应为 2 位数字", p)
	}
	return nil
}

// DirectoryVersion returns the version of the province's directory this node holds.
// ENOTFOUND when it holds none; EINVALID for a code that is not a province's.
func (db *DB) DirectoryVersion(ctx context.Context, province string) (yipanqi.DirectoryVersion, error) {
	if err := checkProvince(province); err != nil {
		return yipanqi.DirectoryVersion{}, err
	}
	v := yipanqi.DirectoryVersion{}
	err := db.q().row(ctx, "SELECT province, version, updated_at, entries FROM directory_versions WHERE province = ?", province).
		Scan(&v.Province, &v.Version, timeCol{&v.UpdatedAt}, &v.Entries)
	if err != nil {
		return yipanqi.DirectoryVersion{}, notFound(fmt.Errorf("directory version: %w", err), "本节点还没有 %s 省的名录", province)
	}
	return v, nil
}

// DirectoryVersions returns the version held of every province's directory, by province code.
func (db *DB) DirectoryVersions(ctx context.Context) ([]yipanqi.DirectoryVersion, error) {
	rows, err := db.q().query(ctx, "SELECT province, version, updated_at, entries FROM directory_versions ORDER BY province")
	if err != nil {
		return nil, fmt.Errorf("directory versions: %w", err)
	}
	defer rows.Close()
	var out []yipanqi.DirectoryVersion
	for rows.Next() {
		var v yipanqi.DirectoryVersion
		if err := rows.Scan(&v.Province, &v.Version, timeCol{&v.UpdatedAt}, &v.Entries); err != nil {
			return nil, fmt.Errorf("directory versions: %w", err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("directory versions: %w", err)
	}
	return out, nil
}

// Directory returns a page of the entries the filter selects, by province and then in each
// province's own order, and how many it selects in all. EINVALID for a malformed filter
// (a province or division code of the wrong shape, an unknown kind or level, a negative offset
// or a limit above 1000).
func (db *DB) Directory(ctx context.Context, f yipanqi.DirectoryFilter) ([]yipanqi.DirectoryEntry, int, error) {
	var where []string
	var args []any
	if f.Province != "" {
		if err := checkProvince(f.Province); err != nil {
			return nil, 0, err
		}
		where, args = append(where, "province = ?"), append(args, f.Province)
	}
	if f.Kind != "" {
		if f.Kind.Label() == "" {
			return nil, 0, yipanqi.FieldErrorf(yipanqi.EINVALID, "kind", "名录类别“%s”无效", f.Kind)
		}
		where, args = append(where, "kind = ?"), append(args, string(f.Kind))
	}
	if f.Level != 0 {
		if f.Level < yipanqi.LevelProvince || f.Level > yipanqi.LevelTownship {
			return nil, 0, yipanqi.FieldErrorf(yipanqi.EINVALID, "level", "层级 %d 无效：应为 1（省）到 4（乡镇街道）", int(f.Level))
		}
		where, args = append(where, "level = ?"), append(args, int(f.Level))
	}
	if f.Division != "" {
		sub, err := yipanqi.NewScope(f.Division)
		if err != nil {
			return nil, 0, yipanqi.FieldErrorf(yipanqi.EINVALID, "division", "行政区划代码“%s”无效", f.Division)
		}
		lo, hi := sub.Range()
		where, args = append(where, "division_code >= ? AND division_code < ?"), append(args, lo, hi)
	}
	if t := strings.TrimSpace(f.Text); t != "" {
		pat := "%" + escapeLike(strings.ToLower(t)) + "%"
		where = append(where, `(lower(name) LIKE ? ESCAPE '\' OR lower(person_name) LIKE ? ESCAPE '\'`+
			` OR lower(job_title) LIKE ? ESCAPE '\' OR lower(services) LIKE ? ESCAPE '\' OR lower(doc_number) LIKE ? ESCAPE '\')`)
		args = append(args, pat, pat, pat, pat, pat)
	}
	if f.Offset < 0 {
		return nil, 0, yipanqi.FieldErrorf(yipanqi.EINVALID, "offset", "起始位置不能为负数")
	}
	limit := f.Limit
	switch {
	case limit == 0:
		limit = defaultDirectoryLimit
	case limit < 0 || limit > maxDirectoryLimit:
		return nil, 0, yipanqi.FieldErrorf(yipanqi.EINVALID, "limit", "每页条数应为 1 到 %d", maxDirectoryLimit)
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	var total int
	if err := db.q().row(ctx, "SELECT COUNT(*) FROM directory_entries"+cond, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("directory: count: %w", err)
	}
	rows, err := db.q().query(ctx, "SELECT "+strings.Join(directoryColumns, ", ")+" FROM directory_entries"+cond+
		" ORDER BY province, seq LIMIT ? OFFSET ?", append(args, limit, f.Offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("directory: %w", err)
	}
	entries, err := scanEntries(rows)
	if err != nil {
		return nil, 0, err
	}
	return entries, total, nil
}

// escapeLike escapes the LIKE wildcards of s for ESCAPE '\'.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// ProvinceDirectory returns every entry of the province's directory held, in its order, and
// its version. ENOTFOUND when none is held.
func (db *DB) ProvinceDirectory(ctx context.Context, province string) (yipanqi.DirectoryVersion, []yipanqi.DirectoryEntry, error) {
	// The version is read before and after the entries: when a replacement came in between,
	// read again, so that the entries and the version returned belong together. (A read
	// transaction would do on PostgreSQL, but on SQLite every transaction takes the write lock.)
	for {
		v, err := db.DirectoryVersion(ctx, province)
		if err != nil {
			return v, nil, err
		}
		rows, err := db.q().query(ctx, "SELECT "+strings.Join(directoryColumns, ", ")+
			" FROM directory_entries WHERE province = ? ORDER BY seq", province)
		if err != nil {
			return v, nil, fmt.Errorf("province directory: %w", err)
		}
		entries, err := scanEntries(rows)
		if err != nil {
			return v, nil, err
		}
		after, err := db.DirectoryVersion(ctx, province)
		if err != nil {
			return v, nil, err
		}
		if after.Version == v.Version && len(entries) == v.Entries {
			return v, entries, nil
		}
		if err := ctx.Err(); err != nil {
			return v, nil, err
		}
	}
}

// Handbook returns the data of the province's printable contact handbook (通讯手册): its
// regulations, institutions and contacts grouped province → city → county → township.
// ENOTFOUND when no directory of the province is held.
func (db *DB) Handbook(ctx context.Context, province string) (*yipanqi.Handbook, error) {
	v, entries, err := db.ProvinceDirectory(ctx, province)
	if err != nil {
		return nil, err
	}
	return yipanqi.BuildHandbook(v, entries), nil
}

func scanEntries(rows *sql.Rows) ([]yipanqi.DirectoryEntry, error) {
	defer rows.Close()
	var out []yipanqi.DirectoryEntry
	for rows.Next() {
		var e yipanqi.DirectoryEntry
		var kind, status, role string
		var level int
		if err := rows.Scan(&e.Province, &e.Seq, &kind, &e.DivisionCode, &level, &e.DivisionName, &e.Name,
			&e.DocNumber, &e.IssuedOn, &status, &e.URL, &e.Text, &e.Services, &role, &e.PersonName,
			&e.JobTitle, &e.Phone, &e.Address, &e.Note); err != nil {
			return nil, fmt.Errorf("directory: scan: %w", err)
		}
		e.Kind, e.Status, e.Role = yipanqi.EntryKind(kind), yipanqi.RegulationStatus(status), yipanqi.DutyRole(role)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("directory: %w", err)
	}
	return out, nil
}

// DirectoryUpdatesAfter returns up to limit received directory.update cases (in scope) that
// arrived after the one created at afterAt with id afterID (the zero time: from the first),
// in arrival order. It reads the partial index cases_directory_updates: the cost is the
// updates returned, not the node's cases.
func (db *DB) DirectoryUpdatesAfter(ctx context.Context, scope yipanqi.Scope, afterAt time.Time, afterID string, limit int) ([]*yipanqi.Case, error) {
	if err := checkScope(scope); err != nil {
		return nil, err
	}
	lo, hi := scope.Range()
	if afterAt.IsZero() {
		afterAt = time.Unix(0, 0) // before every case: a zero time is no time at all (NULL) to the store
	}
	rows, err := db.q().query(ctx, "SELECT "+caseColumns+" FROM cases WHERE type = 'directory.update' AND direction = 'in'"+
		" AND (created_at > ? OR (created_at = ? AND id > ?)) AND "+caseInScope+" ORDER BY created_at, id LIMIT ?",
		db.dialect.timeArg(afterAt), db.dialect.timeArg(afterAt), afterID, lo, hi, pageLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("directory updates: %w", err)
	}
	defer rows.Close()
	var out []*yipanqi.Case
	for rows.Next() {
		c, err := scanCase(rows)
		if err != nil {
			return nil, fmt.Errorf("directory updates: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}
