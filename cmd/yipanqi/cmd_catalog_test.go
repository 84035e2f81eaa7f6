package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"yipanqi"
)

// TestCatalogTable: one aligned row per catalog type, in catalog order, with its name, label
// and documents.
func TestCatalogTable(t *testing.T) {
	for _, args := range [][]string{{"catalog"}, {"catalog", "--format", "table"}} {
		code, out, errOut := cliRun(t, time.Time{}, nil, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d, stderr %s", args, code, errOut)
		}
		lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
		types := yipanqi.Catalog().Types()
		if len(lines) != len(types)+1 {
			t.Fatalf("%d lines for %d types:\n%s", len(lines), len(types), out)
		}
		header := lines[0]
		labelCol := displayWidth(header[:strings.Index(header, "名称")])
		for i, ct := range types {
			row := lines[i+1]
			if !strings.HasPrefix(row, ct.Name+" ") {
				t.Errorf("row %d %q: want type %s first", i+1, row, ct.Name)
				continue
			}
			at := strings.Index(row, "  "+ct.Label+" ")
			if at < 0 || displayWidth(row[:at+2]) != labelCol {
				t.Errorf("row %q: label %s not in the 名称 column (display column %d)", row, ct.Label, labelCol)
			}
			for _, doc := range ct.Documents {
				if !strings.Contains(row, doc) {
					t.Errorf("row %q lacks document %s", row, doc)
				}
			}
			if want := yesNo(ct.NeedsReply); !strings.Contains(row, "  "+want+"  ") {
				t.Errorf("row %q: 需答复 should be %s", row, want)
			}
		}
	}
}

// TestCatalogJSON: the JSON lists every type in catalog order with its fields, replies,
// deadlines and levels by name.
func TestCatalogJSON(t *testing.T) {
	code, out, errOut := cliRun(t, time.Time{}, nil, "catalog", "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d, stderr %s", code, errOut)
	}
	var got struct {
		Types []struct {
			Name       string                 `json:"name"`
			Label      string                 `json:"label"`
			Levels     []string               `json:"levels"`
			Fields     []yipanqi.FieldSpec    `json:"fields"`
			NeedsReply bool                   `json:"needs_reply"`
			Replies    []yipanqi.ReplySpec    `json:"replies"`
			Deadlines  []yipanqi.DeadlineSpec `json:"deadlines"`
		} `json:"types"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	types := yipanqi.Catalog().Types()
	if len(got.Types) != len(types) {
		t.Fatalf("%d types, want %d", len(got.Types), len(types))
	}
	for i, ct := range types {
		g := got.Types[i]
		if g.Name != ct.Name || g.Label != ct.Label || g.NeedsReply != ct.NeedsReply {
			t.Errorf("type %d: %s %s %v, want %s %s %v", i, g.Name, g.Label, g.NeedsReply, ct.Name, ct.Label, ct.NeedsReply)
		}
		if len(g.Fields) != len(ct.Fields) || len(g.Replies) != len(ct.Replies) || len(g.Deadlines) != len(ct.Deadlines) {
			t.Errorf("%s: %d fields, %d replies, %d deadlines; want %d, %d, %d", ct.Name,
				len(g.Fields), len(g.Replies), len(g.Deadlines), len(ct.Fields), len(ct.Replies), len(ct.Deadlines))
		}
		for j := range min(len(g.Fields), len(ct.Fields)) {
			if g.Fields[j].Name != ct.Fields[j].Name || g.Fields[j].Required != ct.Fields[j].Required || g.Fields[j].Kind != ct.Fields[j].Kind {
				t.Errorf("%s field %d: %+v, want %+v", ct.Name, j, g.Fields[j], ct.Fields[j])
			}
		}
		if len(g.Levels) != len(ct.Levels) {
			t.Errorf("%s: levels %v for %v", ct.Name, g.Levels, ct.Levels)
		}
		for j, l := range g.Levels {
			if j < len(ct.Levels) && l != levelName(ct.Levels[j]) {
				t.Errorf("%s: level %q, want %q", ct.Name, l, levelName(ct.Levels[j]))
			}
		}
	}
}

// TestCatalogOneType: `catalog TYPE` shows every field and reply of the type; json gives the
// one object.
func TestCatalogOneType(t *testing.T) {
	for _, ct := range yipanqi.Catalog().Types() {
		t.Run(ct.Name, func(t *testing.T) {
			code, out, errOut := cliRun(t, time.Time{}, nil, "catalog", ct.Name)
			if code != 0 {
				t.Fatalf("exit %d, stderr %s", code, errOut)
			}
			for _, want := range []string{ct.Label, ct.Purpose} {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q", want)
				}
			}
			for _, f := range ct.Fields {
				if !strings.Contains(out, f.Name+"  "+f.Label) {
					t.Errorf("output lacks field %s %s", f.Name, f.Label)
				}
			}
			for _, r := range ct.Replies {
				if !strings.Contains(out, r.Value+"（"+r.Label+"）") {
					t.Errorf("output lacks reply %s", r.Value)
				}
			}
			code, out, errOut = cliRun(t, time.Time{}, nil, "catalog", "--format", "json", ct.Name)
			var one struct {
				Name string `json:"name"`
			}
			if code != 0 || json.Unmarshal([]byte(out), &one) != nil || one.Name != ct.Name {
				t.Errorf("json: exit %d, name %q, stderr %s", code, one.Name, errOut)
			}
		})
	}
}

// TestCatalogErrors: wrong arguments exit 2 with a message naming what is wrong.
func TestCatalogErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown type", []string{"catalog", "no.such.type"}, "no.such.type"},
		{"unknown format", []string{"catalog", "--format", "xml"}, "xml"},
		{"unknown flag", []string{"catalog", "--colour"}, "colour"},
		{"two types", []string{"catalog", "verify.identity", "verify.urgent"}, "一个类型"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := cliRun(t, time.Time{}, nil, tt.args...)
			if code != 2 || out != "" || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want 2, nothing, a message naming %q", code, out, errOut, tt.want)
			}
		})
	}
}
