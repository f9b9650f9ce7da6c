package secretscan

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// secretName matches identifiers that hold secrets or their digests.
var secretName = regexp.MustCompile(`(?i)(key|hash|secret|token|mac|password|sid)$`)

// ConstantTime fails t for every comparison in dir's non-test Go files of
// an identifier named like a secret (…key, …hash, …secret, …token, …mac,
// …password, …sid) made otherwise than through crypto/subtle. A
// comparison with a literal ("" or a zero value) reveals nothing and is
// allowed. It fails too if it finds no comparison at all: then it is not
// looking at the code.
func ConstantTime(t testing.TB, dir string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.BinaryExpr:
				if n.Op != token.EQL && n.Op != token.NEQ {
					return true
				}
				checked++
				if isLiteral(n.X) || isLiteral(n.Y) {
					return true
				}
				if secretName.MatchString(lastName(n.X)) || secretName.MatchString(lastName(n.Y)) {
					t.Errorf("%s: secret compared with %s", fset.Position(n.Pos()), n.Op)
				}
			case *ast.CallExpr:
				fn := lastName(n.Fun)
				if fn != "Equal" && fn != "EqualFold" && fn != "Compare" {
					return true
				}
				if sel, ok := n.Fun.(*ast.SelectorExpr); ok && lastName(sel.X) == "subtle" {
					return true
				}
				for _, arg := range n.Args {
					if secretName.MatchString(lastName(arg)) {
						t.Errorf("%s: secret compared with %s", fset.Position(n.Pos()), fn)
					}
				}
			}
			return true
		})
	}
	if checked == 0 {
		t.Fatal("no comparisons found: the test is not looking at the code")
	}
}

// isLiteral reports whether e is a literal, a composite literal or nil.
func isLiteral(e ast.Expr) bool {
	switch e := e.(type) {
	case *ast.BasicLit, *ast.CompositeLit:
		return true
	case *ast.Ident:
		return e.Name == "nil"
	case *ast.ParenExpr:
		return isLiteral(e.X)
	}
	return false
}

// lastName returns the last identifier of an expression: "Hash" for
// k.Hash, "key" for key, "h" for h[:].
func lastName(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name
	case *ast.SelectorExpr:
		return e.Sel.Name
	case *ast.SliceExpr:
		return lastName(e.X)
	case *ast.IndexExpr:
		return lastName(e.X)
	case *ast.CallExpr:
		return lastName(e.Fun)
	case *ast.StarExpr:
		return lastName(e.X)
	case *ast.ParenExpr:
		return lastName(e.X)
	}
	return ""
}
