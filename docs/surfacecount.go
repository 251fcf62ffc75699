//go:build ignore

// surfacecount counts the exported API of a Go package directory (its
// non-test files): types, package-level funcs, methods on exported types,
// exported error variables (Err*), other exported variables, exported
// constants. Run it from the module root, with -v to list the names:
//
//	go run docs/surfacecount.go . [-v]
package main

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"sort"
	"strings"
)

func main() {
	dir := os.Args[1]
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, dir, func(fi os.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, 0)
	if err != nil {
		panic(err)
	}
	var types, funcs, methods, errs, vars, consts []string
	for name, pkg := range pkgs {
		if strings.HasSuffix(name, "_test") {
			continue
		}
		for _, f := range pkg.Files {
			for _, d := range f.Decls {
				switch d := d.(type) {
				case *ast.FuncDecl:
					if !d.Name.IsExported() {
						continue
					}
					if d.Recv == nil {
						funcs = append(funcs, d.Name.Name)
						continue
					}
					t := d.Recv.List[0].Type
					if s, ok := t.(*ast.StarExpr); ok {
						t = s.X
					}
					if id, ok := t.(*ast.Ident); ok && id.IsExported() {
						methods = append(methods, id.Name+"."+d.Name.Name)
					}
				case *ast.GenDecl:
					for _, s := range d.Specs {
						switch s := s.(type) {
						case *ast.TypeSpec:
							if s.Name.IsExported() {
								types = append(types, s.Name.Name)
							}
						case *ast.ValueSpec:
							for _, n := range s.Names {
								if !n.IsExported() {
									continue
								}
								switch {
								case d.Tok == token.CONST:
									consts = append(consts, n.Name)
								case strings.HasPrefix(n.Name, "Err"):
									errs = append(errs, n.Name)
								default:
									vars = append(vars, n.Name)
								}
							}
						}
					}
				}
			}
		}
	}
	for _, l := range []struct {
		k string
		v []string
	}{{"types", types}, {"funcs", funcs}, {"methods", methods}, {"sentinels", errs}, {"vars", vars}, {"consts", consts}} {
		sort.Strings(l.v)
		fmt.Printf("%-9s %3d\n", l.k, len(l.v))
		if len(os.Args) > 2 {
			fmt.Printf("  %s\n", strings.Join(l.v, " "))
		}
	}
}
