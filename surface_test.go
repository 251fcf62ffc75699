package struere_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"sort"
	"strings"
	"testing"
)

// surfaceBudget is the root package's exported surface, by category. A
// change that adds an exported name fails TestExportedSurfaceStaysWithinItsBudget
// until the budget here is raised on purpose; a change that removes names
// should lower it. Run `go test -v -run TestExportedSurface .` to see the
// counts and the names.
var surfaceBudget = map[string]int{
	"types":     87,
	"funcs":     31,
	"methods":   92,
	"sentinels": 21,
	"vars":      0,
	"consts":    85,
}

// exportedSurface lists the exported names of the non-test Go files in
// dir: types, package-level functions, methods on exported types, error
// variables (Err*), other variables and constants.
func exportedSurface(t *testing.T, dir string) map[string][]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	fset := token.NewFileSet()
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, dir+"/"+name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if !d.Name.IsExported() {
					continue
				}
				if d.Recv == nil {
					out["funcs"] = append(out["funcs"], d.Name.Name)
					continue
				}
				recv := d.Recv.List[0].Type
				if s, ok := recv.(*ast.StarExpr); ok {
					recv = s.X
				}
				if id, ok := recv.(*ast.Ident); ok && id.IsExported() {
					out["methods"] = append(out["methods"], id.Name+"."+d.Name.Name)
				}
			case *ast.GenDecl:
				for _, s := range d.Specs {
					switch s := s.(type) {
					case *ast.TypeSpec:
						if s.Name.IsExported() {
							out["types"] = append(out["types"], s.Name.Name)
						}
					case *ast.ValueSpec:
						for _, n := range s.Names {
							switch {
							case !n.IsExported():
							case d.Tok == token.CONST:
								out["consts"] = append(out["consts"], n.Name)
							case strings.HasPrefix(n.Name, "Err"):
								out["sentinels"] = append(out["sentinels"], n.Name)
							default:
								out["vars"] = append(out["vars"], n.Name)
							}
						}
					}
				}
			}
		}
	}
	return out
}

func TestExportedSurfaceStaysWithinItsBudget(t *testing.T) {
	got := exportedSurface(t, ".")
	for _, kind := range []string{"types", "funcs", "methods", "sentinels", "vars", "consts"} {
		names := got[kind]
		sort.Strings(names)
		t.Logf("%-9s %3d  %s", kind, len(names), strings.Join(names, " "))
		if len(names) > surfaceBudget[kind] {
			t.Errorf("%d exported %s, the budget is %d: unexport what a user does not need, or raise surfaceBudget in surface_test.go on purpose", len(names), kind, surfaceBudget[kind])
		}
	}
	if len(got["types"]) < 10 {
		t.Fatalf("found only %d exported types: the count is not reading the package", len(got["types"]))
	}
}
