// Package frontend embeds the built web app (frontend/dist) for the server and
// the desktop shell. It lives beside the app because go:embed sees only its own
// directory tree.
//
// dist/ is not committed except for dist/.gitkeep, so this package compiles
// before `npm run build` has run; FS then serves a placeholder page that says
// how to build the app, and Built reports false.
package frontend

import (
	"embed"
	"fmt"
	"io/fs"
)

//go:embed all:dist
var dist embed.FS

//go:embed placeholder/index.html
var placeholder embed.FS

// FS returns the web app's files, rooted so that "index.html" is the app's
// entry page. When the app has not been built it returns a one-page
// filesystem whose index.html explains that.
func FS() fs.FS {
	return pick(dist, placeholder)
}

// Built reports whether the embedded filesystem holds a built app.
func Built() bool {
	return built(dist)
}

func built(distFS fs.FS) bool {
	st, err := fs.Stat(distFS, "dist/index.html")
	return err == nil && !st.IsDir()
}

func pick(distFS, placeholderFS fs.FS) fs.FS {
	if built(distFS) {
		return mustSub(distFS, "dist")
	}
	return mustSub(placeholderFS, "placeholder")
}

// mustSub cannot fail for the literal, valid directory names used above
// (fs.Sub only rejects invalid paths); a failure is a programming error.
func mustSub(f fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(f, dir)
	if err != nil {
		panic(fmt.Sprintf("frontend: sub %q: %v", dir, err))
	}
	return sub
}
