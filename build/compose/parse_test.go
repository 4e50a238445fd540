package compose

import (
	"bufio"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// root returns the repository's root folder (the tests run in build/compose).
func root(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		t.Fatalf("repository root not found from build/compose: %v", err)
	}
	return dir
}

func readFile(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// ---- .env.example ----------------------------------------------------------------------------------------------

// envEntry is one variable of .env.example: `NAME=value` (active) or `# NAME=value` (documented, left unset).
type envEntry struct {
	Name   string
	Value  string
	Active bool
	Doc    string // the comment lines just above it, joined
	Line   int
}

var (
	activeLine    = regexp.MustCompile(`^([A-Z][A-Z0-9_]*)=(.*)$`)
	commentedLine = regexp.MustCompile(`^#\s?([A-Z][A-Z0-9_]*)=(.*)$`)
)

// parseEnvExample reads .env.example's variables in order. Comment lines that are not `# NAME=` form the doc of the
// next variable; a blank line ends a doc block.
func parseEnvExample(text string) ([]envEntry, error) {
	var out []envEntry
	var doc []string
	sc := bufio.NewScanner(strings.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), " \t")
		if m := activeLine.FindStringSubmatch(line); m != nil {
			out = append(out, envEntry{Name: m[1], Value: m[2], Active: true, Doc: strings.Join(doc, " "), Line: n})
			continue
		}
		if m := commentedLine.FindStringSubmatch(line); m != nil {
			out = append(out, envEntry{Name: m[1], Value: m[2], Doc: strings.Join(doc, " "), Line: n})
			continue
		}
		switch {
		case line == "":
			doc = nil
		case strings.HasPrefix(line, "#"):
			doc = append(doc, strings.TrimSpace(strings.TrimPrefix(line, "#")))
		default:
			return nil, fmt.Errorf("line %d: neither a comment nor NAME=value: %q", n, line)
		}
	}
	return out, sc.Err()
}

// ---- ${VAR} references of docker-compose.yml -------------------------------------------------------------------

// composeRef is one ${NAME...} in the compose file.
type composeRef struct {
	Name     string
	Op       string // "", ":-", "-", ":?", "?"
	Arg      string // the default or the error message
	Required bool
}

var refPattern = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}`)

// composeRefs returns the compose file's ${...} references, and any bare $NAME, which the checks could not follow.
// `$$` is Compose's escape for a literal dollar sign.
func composeRefs(text string) (refs []composeRef, bare []string) {
	text = strings.ReplaceAll(text, "$$", "")
	for _, m := range refPattern.FindAllStringSubmatch(text, -1) {
		refs = append(refs, composeRef{Name: m[1], Op: m[2], Arg: m[3], Required: strings.HasSuffix(m[2], "?")})
	}
	rest := refPattern.ReplaceAllString(text, "")
	bare = regexp.MustCompile(`\$[A-Za-z_{][A-Za-z0-9_]*`).FindAllString(rest, -1)
	return refs, bare
}

// ---- build/Dockerfile --------------------------------------------------------------------------------------------

// instruction is one Dockerfile instruction with its continuation lines joined.
type instruction struct {
	Cmd  string // upper case: FROM, RUN, COPY ...
	Args string
	Line int
}

type stage struct {
	Name  string
	From  string
	Line  int
	Instr []instruction
}

// parseDockerfile splits the file into stages. It understands what build/Dockerfile uses: comments, `\` line
// continuations, and `FROM image AS name`.
func parseDockerfile(text string) ([]stage, error) {
	var stages []stage
	var cur strings.Builder
	start := 0
	flush := func() error {
		s := strings.TrimSpace(cur.String())
		cur.Reset()
		if s == "" {
			return nil
		}
		cmd, args, _ := strings.Cut(s, " ")
		in := instruction{Cmd: strings.ToUpper(cmd), Args: strings.TrimSpace(args), Line: start}
		if in.Cmd == "FROM" {
			f := strings.Fields(in.Args)
			st := stage{From: f[0], Line: start}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				st.Name = f[2]
			} else if len(f) != 1 {
				return fmt.Errorf("line %d: unexpected FROM %q", start, in.Args)
			}
			stages = append(stages, st)
			return nil
		}
		if len(stages) == 0 {
			return fmt.Errorf("line %d: %s before the first FROM", start, in.Cmd)
		}
		stages[len(stages)-1].Instr = append(stages[len(stages)-1].Instr, in)
		return nil
	}
	sc := bufio.NewScanner(strings.NewReader(text))
	continued := false
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") || (line == "" && !continued) {
			continue
		}
		if !continued {
			start = n
		}
		continued = strings.HasSuffix(line, `\`)
		cur.WriteString(strings.TrimSuffix(line, `\`))
		cur.WriteString(" ")
		if !continued {
			if err := flush(); err != nil {
				return nil, err
			}
		}
	}
	if continued {
		return nil, fmt.Errorf("the file ends inside a continued line")
	}
	return stages, sc.Err()
}

func (s stage) all(cmd string) []instruction {
	var out []instruction
	for _, in := range s.Instr {
		if in.Cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

func (s stage) last(cmd string) (instruction, bool) {
	all := s.all(cmd)
	if len(all) == 0 {
		return instruction{}, false
	}
	return all[len(all)-1], true
}

// copyArgs splits a COPY instruction into its flags (--from=..., --chown=...), sources and destination.
func copyArgs(in instruction) (flags map[string]string, srcs []string, dst string) {
	flags = map[string]string{}
	f := strings.Fields(in.Args)
	for len(f) > 0 && strings.HasPrefix(f[0], "--") {
		k, v, _ := strings.Cut(strings.TrimPrefix(f[0], "--"), "=")
		flags[k] = v
		f = f[1:]
	}
	if len(f) < 2 {
		return flags, nil, ""
	}
	return flags, f[:len(f)-1], f[len(f)-1]
}

// ---- .dockerignore -------------------------------------------------------------------------------------------------

// dockerignore holds the patterns of a .dockerignore file, matched as Docker does: against the path relative to the
// context, where a pattern that matches a folder excludes everything inside it, `**` matches any number of folders,
// and a later `!pattern` re-includes.
type dockerignore []string

func parseDockerignore(text string) dockerignore {
	var d dockerignore
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		d = append(d, line)
	}
	return d
}

// excluded reports whether rel (slash-separated, relative to the context) is left out of the build context.
func (d dockerignore) excluded(rel string) bool {
	rel = path.Clean(strings.TrimPrefix(rel, "./"))
	out := false
	for _, p := range d {
		neg := strings.HasPrefix(p, "!")
		p = path.Clean(strings.TrimPrefix(strings.TrimPrefix(p, "!"), "/"))
		if matchPrefix(strings.Split(p, "/"), strings.Split(rel, "/")) {
			out = !neg
		}
	}
	return out
}

// matchPrefix reports whether the pattern's segments match the path's segments or a leading part of them (the
// path is inside a matched folder).
func matchPrefix(pat, segs []string) bool {
	if len(pat) == 0 {
		return true
	}
	if pat[0] == "**" {
		for i := 0; i <= len(segs); i++ {
			if matchPrefix(pat[1:], segs[i:]) {
				return true
			}
		}
		return false
	}
	if len(segs) == 0 {
		return false
	}
	ok, err := path.Match(pat[0], segs[0])
	return err == nil && ok && matchPrefix(pat[1:], segs[1:])
}

// ---- the parsers' own tests ----------------------------------------------------------------------------------------

func TestParseEnvExample(t *testing.T) {
	got, err := parseEnvExample("# Title\n\n# The port.\n# More.\n# PORT=8080\nSECRET=\n\n# Undocumented next:\n\nX=1\n")
	if err != nil {
		t.Fatal(err)
	}
	want := []envEntry{
		{Name: "PORT", Value: "8080", Doc: "The port. More.", Line: 5},
		{Name: "SECRET", Active: true, Doc: "The port. More.", Line: 6},
		{Name: "X", Value: "1", Active: true, Line: 10},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	if _, err := parseEnvExample("export X=1\n"); err == nil {
		t.Error("a line that is neither comment nor NAME=value was accepted")
	}
}

func TestComposeRefs(t *testing.T) {
	refs, bare := composeRefs("a: ${A}\nb: ${B:-x y}\nc: ${C-}\nd: ${D:?set D}\ne: $$NOT\nf: $BARE\n")
	want := []composeRef{{Name: "A"}, {Name: "B", Op: ":-", Arg: "x y"}, {Name: "C", Op: "-"},
		{Name: "D", Op: ":?", Arg: "set D", Required: true}}
	if fmt.Sprint(refs) != fmt.Sprint(want) {
		t.Errorf("refs %+v, want %+v", refs, want)
	}
	if fmt.Sprint(bare) != "[$BARE]" {
		t.Errorf("bare %v, want [$BARE]", bare)
	}
}

func TestParseDockerfile(t *testing.T) {
	st, err := parseDockerfile("# c\nFROM a:1 AS one\nRUN x \\\n  && y\n\nCOPY --from=one /a /b\nFROM debian\nUSER 1\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 2 || st[0].Name != "one" || st[0].From != "a:1" || st[1].Name != "" || st[1].From != "debian" {
		t.Fatalf("stages %+v", st)
	}
	if run := st[0].all("RUN"); len(run) != 1 || run[0].Args != "x  && y" || run[0].Line != 3 {
		t.Errorf("RUN %+v", run)
	}
	flags, srcs, dst := copyArgs(st[0].all("COPY")[0])
	if flags["from"] != "one" || fmt.Sprint(srcs) != "[/a]" || dst != "/b" {
		t.Errorf("COPY %v %v %v", flags, srcs, dst)
	}
	if _, err := parseDockerfile("RUN x\n"); err == nil {
		t.Error("an instruction before FROM was accepted")
	}
}

func TestDockerignoreMatching(t *testing.T) {
	d := parseDockerignore("# c\n.git\n**/node_modules\nbin\nfrontend/dist\n*.log\n!keep.log\n")
	for rel, want := range map[string]bool{
		".git":                         true,
		".git/HEAD":                    true,
		"node_modules/x":               true,
		"frontend/node_modules":        true,
		"frontend/node_modules/a/b.js": true,
		"bin/worker":                   true,
		"shared/bin":                   false,
		"frontend/dist/index.html":     true,
		"frontend/distx":               false,
		"frontend/embed.go":            false,
		"a.log":                        true,
		"keep.log":                     false,
		"go.mod":                       false,
	} {
		if got := d.excluded(rel); got != want {
			t.Errorf("excluded(%q) = %v, want %v", rel, got, want)
		}
	}
}
