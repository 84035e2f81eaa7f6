package casework

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"sync"
	"time"

	"yipanqi"
)

// The region's directory travels as directory.update (S1.4, docs/directory.md): a province
// sends its whole directory, one version, to every other node of the trust list, and each
// node keeps the newest version it has of every province. The engine files a received
// directory.update as an incoming case closed on receipt (the catalog's AnswerApply);
// ApplyDirectoryUpdates then stores its entries with the store's version rule, which makes
// applying a version twice, or an older one after a newer, change nothing.

// DirectoryUpdate is the case type that carries a province's directory.
const DirectoryUpdate = "directory.update"

// directoryData is the fields of a directory.update request.
type directoryData struct {
	Version   int64       `json:"version"`
	UpdatedAt string      `json:"updated_at"`      // RFC 3339, when the source province made the version
	Part      int         `json:"part,omitempty"`  // 1..Parts when the version travels in parts
	Parts     int         `json:"parts,omitempty"` // 0 or 1: the whole version in one message
	Entries   []entryWire `json:"entries"`
}

// directoryPartBytes is the most a part's fields may take: a directory larger goes in parts,
// so that every message stays under the envelope's limit (MaxEnvelopeSize) with room for the
// envelope itself.
const directoryPartBytes = 160 << 10

// entryWire is one directory entry as it travels.
type entryWire struct {
	Kind         string `json:"kind"`
	DivisionCode string `json:"division_code"`
	DivisionName string `json:"division_name,omitempty"`
	Name         string `json:"name"`
	DocNumber    string `json:"doc_number,omitempty"`
	IssuedOn     string `json:"issued_on,omitempty"`
	Status       string `json:"status,omitempty"`
	URL          string `json:"url,omitempty"`
	Text         string `json:"text,omitempty"`
	Services     string `json:"services,omitempty"`
	Role         string `json:"role,omitempty"`
	PersonName   string `json:"person_name,omitempty"`
	JobTitle     string `json:"job_title,omitempty"`
	Phone        string `json:"phone,omitempty"`
	Address      string `json:"address,omitempty"`
	Note         string `json:"note,omitempty"`
}

// DirectoryFields returns the fields of the directory.update that carries version v of a
// province's directory.
func DirectoryFields(v yipanqi.DirectoryVersion, entries []yipanqi.DirectoryEntry) (json.RawMessage, error) {
	return directoryPart(v, entries, 0, 0)
}

// DirectoryParts returns the fields of the directory.update messages that carry version v:
// one when it fits directoryPartBytes, else as many parts as it takes, each marked with its
// number and the count, the entries in order.
func DirectoryParts(v yipanqi.DirectoryVersion, entries []yipanqi.DirectoryEntry) ([]json.RawMessage, error) {
	for parts := 1; parts <= len(entries)+1; parts++ {
		out := make([]json.RawMessage, 0, parts)
		per := (len(entries) + parts - 1) / parts
		fits := true
		for i := 0; i < parts; i++ {
			lo, hi := min(i*per, len(entries)), min((i+1)*per, len(entries))
			part, number := 0, 0
			if parts > 1 {
				part, number = i+1, parts
			}
			b, err := directoryPart(v, entries[lo:hi], part, number)
			if err != nil {
				return nil, err
			}
			if len(b) > directoryPartBytes {
				fits = false
				break
			}
			out = append(out, b)
		}
		if fits {
			return out, nil
		}
	}
	return nil, yipanqi.Errorf(yipanqi.EINVALID, "名录条目过大，无法分册发送")
}

func directoryPart(v yipanqi.DirectoryVersion, entries []yipanqi.DirectoryEntry, part, parts int) (json.RawMessage, error) {
	d := directoryData{Version: v.Version, UpdatedAt: v.UpdatedAt.UTC().Format(time.RFC3339Nano),
		Part: part, Parts: parts, Entries: make([]entryWire, len(entries))}
	for i, e := range entries {
		d.Entries[i] = entryWire{Kind: string(e.Kind), DivisionCode: e.DivisionCode, DivisionName: e.DivisionName,
			Name: e.Name, DocNumber: e.DocNumber, IssuedOn: e.IssuedOn.String(), Status: string(e.Status), URL: e.URL,
			Text: e.Text, Services: e.Services, Role: string(e.Role), PersonName: e.PersonName, JobTitle: e.JobTitle,
			Phone: e.Phone, Address: e.Address, Note: e.Note}
	}
	b, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("directory fields: %w", err)
	}
	return b, nil
}

// ParseDirectoryFields reads the fields of a directory.update sent by the province with the
// 2-digit code: the version and its entries, each checked as the store checks them. EINVALID,
// naming the entry and its field, when they are not a valid directory of that province.
func ParseDirectoryFields(province string, fields json.RawMessage) (yipanqi.DirectoryVersion, []yipanqi.DirectoryEntry, error) {
	v, entries, _, _, err := parseDirectoryPart(province, fields)
	return v, entries, err
}

// parseDirectoryPart is ParseDirectoryFields that also returns the part's number and the
// count of parts (1 and 1 for a version sent whole).
func parseDirectoryPart(province string, fields json.RawMessage) (yipanqi.DirectoryVersion, []yipanqi.DirectoryEntry, int, int, error) {
	var d directoryData
	dec := json.NewDecoder(bytes.NewReader(fields))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return yipanqi.DirectoryVersion{}, nil, 0, 0, yipanqi.FieldErrorf(yipanqi.EINVALID, "fields", "名录更新数据格式错误：%s", jsonProblem(err))
	}
	v := yipanqi.DirectoryVersion{Province: province, Version: d.Version, Entries: len(d.Entries)}
	part, parts := d.Part, d.Parts
	if parts == 0 && part == 0 {
		part, parts = 1, 1
	}
	switch {
	case d.Version <= 0:
		return v, nil, 0, 0, yipanqi.FieldErrorf(yipanqi.EINVALID, "version", "名录版本号应为正整数，而不是 %d", d.Version)
	case parts < 1 || parts > 1000 || part < 1 || part > parts:
		return v, nil, 0, 0, yipanqi.FieldErrorf(yipanqi.EINVALID, "part", "名录分册序号 %d/%d 无效", d.Part, d.Parts)
	}
	t, err := time.Parse(time.RFC3339Nano, d.UpdatedAt)
	if err != nil {
		return v, nil, 0, 0, yipanqi.FieldErrorf(yipanqi.EINVALID, "updated_at", "名录更新时间（updated_at）不是 RFC 3339 时间")
	}
	v.UpdatedAt = t.UTC()
	entries := make([]yipanqi.DirectoryEntry, len(d.Entries))
	for i, w := range d.Entries {
		e := yipanqi.DirectoryEntry{Kind: yipanqi.EntryKind(w.Kind), DivisionCode: w.DivisionCode,
			DivisionName: w.DivisionName, Name: w.Name, DocNumber: w.DocNumber, Status: yipanqi.RegulationStatus(w.Status),
			URL: w.URL, Text: w.Text, Services: w.Services, Role: yipanqi.DutyRole(w.Role), PersonName: w.PersonName,
			JobTitle: w.JobTitle, Phone: w.Phone, Address: w.Address, Note: w.Note}
		if w.IssuedOn != "" {
			if e.IssuedOn, err = yipanqi.ParseDate(w.IssuedOn); err != nil {
				return v, nil, 0, 0, yipanqi.FieldErrorf(yipanqi.EINVALID, "IssuedOn", "名录第 %d 条：发布日期须为 YYYY-MM-DD 格式的日期", i+1)
			}
		}
		if errs := e.Check(province); len(errs) > 0 {
			return v, nil, 0, 0, yipanqi.FieldErrorf(yipanqi.EINVALID, errs[0].Field, "名录第 %d 条（%s）：%s", i+1, e.Kind.Label(), withoutQuoted(errs[0].Message))
		}
		entries[i] = e
	}
	return v, entries, part, parts, nil
}

// DirectoryCaseType is the engine's entry for directory.update: the catalog's declaration
// (sides, AnswerApply) with the validation of the directory's own fields. A node's
// NodeConfig.Types needs it until the catalog row declares the same fields (docs/directory.md).
func DirectoryCaseType() CaseType {
	ct := DefaultCaseTypes()[DirectoryUpdate]
	ct.Name = DirectoryUpdate
	ct.ValidateRequest = func(fields json.RawMessage) error {
		// The sender is not known here; the entries must at least agree on one province,
		// and ApplyDirectoryUpdates checks them against the sending node.
		var d struct {
			Entries []struct {
				DivisionCode string `json:"division_code"`
			} `json:"entries"`
		}
		if err := json.Unmarshal(fields, &d); err != nil {
			return yipanqi.FieldErrorf(yipanqi.EINVALID, "fields", "名录更新数据格式错误：%s", jsonProblem(err))
		}
		province := ""
		for _, e := range d.Entries {
			if len(e.DivisionCode) >= 2 {
				province = e.DivisionCode[:2]
				break
			}
		}
		if province == "" {
			province = "00"
		}
		_, _, err := ParseDirectoryFields(province, fields)
		return err
	}
	return ct
}

// PublishDirectory sends this node's own directory, the version it holds, as a
// directory.update to every other node of the trust list, all in one transaction (SendMany).
// ENOTFOUND when the node holds no directory of its own province.
func (n *Node) PublishDirectory(ctx context.Context) error {
	v, entries, err := n.db.ProvinceDirectory(ctx, n.code)
	if err != nil {
		return err
	}
	parts, err := DirectoryParts(v, entries)
	if err != nil {
		return err
	}
	var batch []NewCase
	for _, peer := range n.cfg.Trust.Nodes {
		if peer.Code == n.code {
			continue
		}
		for _, fields := range parts {
			batch = append(batch, NewCase{Case: &yipanqi.Case{Type: DirectoryUpdate, OrgUnit: n.code,
				PeerNode: peer.Code, PeerUnit: peer.Code}, Fields: fields})
		}
	}
	if len(batch) == 0 {
		return nil
	}
	if err := n.SendMany(ctx, batch); err != nil {
		return fmt.Errorf("publish directory v%d: %w", v.Version, err)
	}
	return nil
}

// directoryScan is how many received directory.update cases ApplyDirectoryUpdates reads at a
// time.
const directoryScan = 200

// dirCandidate is a version of a province's directory as its parts arrive.
type dirCandidate struct {
	v      yipanqi.DirectoryVersion
	parts  [][]yipanqi.DirectoryEntry // by part number - 1; nil until that part is here
	caseID string
}

// dirState is what the applier has read: the last case it read (it reads each once, in
// arrival order) and the versions still missing parts. It lives as long as the Node; a new
// process reads every received update once more, which the version rule makes harmless.
type dirState struct {
	mu      sync.Mutex
	afterAt time.Time
	afterID string
	pending map[string]map[int64]*dirCandidate // source → version → parts so far
}

// ApplyDirectoryUpdates stores, for each province that sent one, the newest complete version
// among the directory.update cases received since its last call, when it is newer than the
// version held, and returns how many provinces' directories it replaced. It reads each case
// once (DirectoryUpdatesAfter); a version still missing parts waits in memory for them. A
// version not newer than the one held is skipped (applied before, or a newer one came first);
// one whose entries are not a valid directory of the sending province is logged and skipped,
// and changes nothing.
func (n *Node) ApplyDirectoryUpdates(ctx context.Context) (int, error) {
	n.dir.mu.Lock()
	defer n.dir.mu.Unlock()
	if n.dir.pending == nil {
		n.dir.pending = map[string]map[int64]*dirCandidate{}
	}
	for {
		cases, err := n.db.DirectoryUpdatesAfter(ctx, n.scope, n.dir.afterAt, n.dir.afterID, directoryScan)
		if err != nil {
			return 0, fmt.Errorf("apply directory updates: %w", err)
		}
		for _, c := range cases {
			n.dir.afterAt, n.dir.afterID = c.CreatedAt, c.ID
			src := c.PeerNode
			if src == n.code {
				continue
			}
			v, entries, part, parts, err := parseDirectoryPart(src, c.Data)
			if err != nil {
				// The message may quote an official's phone: the log names the field only.
				n.log.Warn("directory update refused", "case", c.ID, "from", src, "field", yipanqi.ErrorField(err))
				continue
			}
			if n.dir.pending[src] == nil {
				n.dir.pending[src] = map[int64]*dirCandidate{}
			}
			cand := n.dir.pending[src][v.Version]
			if cand == nil || len(cand.parts) != parts {
				cand = &dirCandidate{v: v, parts: make([][]yipanqi.DirectoryEntry, parts), caseID: c.ID}
				n.dir.pending[src][v.Version] = cand
			}
			if entries == nil {
				entries = []yipanqi.DirectoryEntry{}
			}
			cand.parts[part-1] = entries
		}
		if len(cases) < directoryScan {
			break
		}
	}
	applied := 0
	for src := range n.dir.pending {
		// The newest complete version of the province; older complete ones are dropped.
		var best *dirCandidate
		var all []yipanqi.DirectoryEntry
	next:
		for _, cand := range n.dir.pending[src] {
			var entries []yipanqi.DirectoryEntry
			for _, p := range cand.parts {
				if p == nil {
					continue next // a part still on its way
				}
				entries = append(entries, p...)
			}
			if best == nil || cand.v.Version > best.v.Version {
				best, all = cand, entries
			}
		}
		if best == nil {
			continue
		}
		held, err := n.db.DirectoryVersion(ctx, src)
		if err != nil && yipanqi.ErrorCode(err) != yipanqi.ENOTFOUND {
			return applied, fmt.Errorf("apply directory updates: %w", err) // kept pending: tried again next round
		}
		if err != nil || held.Version < best.v.Version {
			v := best.v
			v.Entries = len(all)
			err = n.db.ReplaceProvinceDirectory(ctx, v, all)
			switch yipanqi.ErrorCode(err) {
			case "":
				applied++
			case yipanqi.ECONFLICT:
				// A replica applied it, or a newer one, meanwhile.
			case yipanqi.EINVALID:
				n.log.Warn("directory update refused", "case", best.caseID, "from", src, "field", yipanqi.ErrorField(err))
			default:
				return applied, fmt.Errorf("apply directory updates: %w", err) // kept pending
			}
		}
		// Done with this version and any older one of the province.
		for version := range n.dir.pending[src] {
			if version <= best.v.Version {
				delete(n.dir.pending[src], version)
			}
		}
	}
	return applied, nil
}

// RunDirectoryApplier calls ApplyDirectoryUpdates every interval until ctx ends; an error is
// logged and the next round tries again.
func (n *Node) RunDirectoryApplier(ctx context.Context, every time.Duration) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := n.ApplyDirectoryUpdates(ctx); err != nil && ctx.Err() == nil {
			n.log.Error("directory applier", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// quotedText is a value DirectoryEntry.Check quotes in its messages (“…”), for the person who
// typed it; a received entry's values stay out of a reason (docs/exchange-engine.md).
var quotedText = regexp.MustCompile(`“[^”]*”`)

func withoutQuoted(msg string) string { return quotedText.ReplaceAllString(msg, "") }
