package storetest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

// TestSuiteListsEveryBehaviour: every function of the package shaped as a behaviour —
// (t *testing.T, open func(t *testing.T) *sqlstore.DB) — is listed once in suite or in
// exchangeTests, so that none is written and silently never run.
func TestSuiteListsEveryBehaviour(t *testing.T) {
	listed := map[string]int{}
	names := map[string]bool{}
	for _, table := range [][]suiteTest{suite} {
		for _, tt := range table {
			listed[funcName(tt.fn)]++
			if names[tt.name] {
				t.Errorf("behaviour name %s listed twice", tt.name)
			}
			names[tt.name] = true
		}
	}
	for _, tt := range exchangeTests {
		listed[funcName(tt.fn)]++
	}
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), e.Name(), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Recv != nil || fd.Name.Name == "Run" || !isBehaviour(fd.Type) {
				continue
			}
			found++
			if n := listed[fd.Name.Name]; n != 1 {
				t.Errorf("%s is listed %d times in suite and exchangeTests, want once", fd.Name.Name, n)
			}
		}
	}
	if found < 50 {
		t.Errorf("found %d behaviours in the source, want the suite's (50 or more)", found)
	}
}

// isBehaviour reports whether ft is func(t *testing.T, open func(t *testing.T) *sqlstore.DB).
func isBehaviour(ft *ast.FuncType) bool {
	var params []string
	for _, p := range ft.Params.List {
		for range max(len(p.Names), 1) {
			params = append(params, types(p.Type))
		}
	}
	return ft.Results == nil && len(params) == 2 && params[0] == "*testing.T" &&
		params[1] == "func(*testing.T) *sqlstore.DB"
}

// types writes the few type expressions a behaviour's signature has.
func types(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.StarExpr:
		return "*" + types(e.X)
	case *ast.SelectorExpr:
		return types(e.X) + "." + e.Sel.Name
	case *ast.Ident:
		return e.Name
	case *ast.FuncType:
		var ps []string
		for _, p := range e.Params.List {
			for range max(len(p.Names), 1) {
				ps = append(ps, types(p.Type))
			}
		}
		s := "func(" + strings.Join(ps, ", ") + ")"
		if e.Results != nil && len(e.Results.List) == 1 {
			s += " " + types(e.Results.List[0].Type)
		}
		return s
	}
	return "?"
}

// funcName is the bare name of a package function value.
func funcName(fn any) string {
	name := runtime.FuncForPC(reflect.ValueOf(fn).Pointer()).Name()
	return name[strings.LastIndex(name, ".")+1:]
}
