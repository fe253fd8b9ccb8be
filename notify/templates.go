package notify

import (
	"bytes"
	"embed"
	"fmt"
	htemplate "html/template"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	ttemplate "text/template"
	"time"

	"keyrotor/rotation"
)

// builtinTemplates are the mail templates compiled into the binary. Each
// mail has NAME.subject (text/template, one line), NAME.txt (text/template)
// and NAME.html (html/template); footer.txt and footer.html are shared by
// the notices as {{template "footer" .}}. notifications.templates_dir
// overrides any of these files one by one.
//
//go:embed mailtemplates/*.subject mailtemplates/*.txt mailtemplates/*.html
var builtinTemplates embed.FS

const builtinTemplateDir = "mailtemplates"

// Template file suffixes.
const (
	extSubject = ".subject"
	extText    = ".txt"
	extHTML    = ".html"
)

// digestTemplateName and footerTemplateName name the template files that
// are not a notice event.
const (
	digestTemplateName = "digest"
	footerTemplateName = "footer"
)

// noticeEvents are the events with a notice template, in a fixed order for
// loading and error messages.
var noticeEvents = []rotation.Event{rotation.EventIssued, rotation.EventReminder, rotation.EventDeactivated, rotation.EventDeleted,
	rotation.EventHeld, rotation.EventDueSoon}

// mailFuncs are the functions every template may call. Dates are printed
// in UTC with the zone spelled out, since owners read mail in every time
// zone.
var mailFuncs = map[string]any{
	"datetime": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	"date": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02")
	},
	"join": strings.Join,
}

// mailTemplate is one mail's three templates.
type mailTemplate struct {
	name    string
	subject *ttemplate.Template
	text    *ttemplate.Template
	html    *htemplate.Template
}

// renderedMail is one message's subject and bodies.
type renderedMail struct {
	Subject, Text, HTML string
}

// render executes the three templates with data. A subject is trimmed and
// must be one non-empty line: a line break would end the header.
func (t *mailTemplate) render(data any) (renderedMail, error) {
	var m renderedMail
	var b bytes.Buffer
	if err := t.subject.Execute(&b, data); err != nil {
		return m, fmt.Errorf("mail template %s: %w", t.name+extSubject, err)
	}
	m.Subject = strings.TrimSpace(b.String())
	if m.Subject == "" {
		return m, fmt.Errorf("mail template %s: renders an empty subject", t.name+extSubject)
	}
	if strings.ContainsAny(m.Subject, "\r\n") {
		return m, fmt.Errorf("mail template %s: renders a subject of several lines; a subject is one line", t.name+extSubject)
	}
	b.Reset()
	if err := t.text.Execute(&b, data); err != nil {
		return m, fmt.Errorf("mail template %s: %w", t.name+extText, err)
	}
	// Template files end in newlines of their own; one is enough.
	m.Text = strings.TrimRight(b.String(), " \t\r\n") + "\n"
	b.Reset()
	if err := t.html.Execute(&b, data); err != nil {
		return m, fmt.Errorf("mail template %s: %w", t.name+extHTML, err)
	}
	m.HTML = b.String()
	if strings.TrimSpace(m.Text) == "" || strings.TrimSpace(m.HTML) == "" {
		return m, fmt.Errorf("mail template %s: renders an empty body", t.name)
	}
	return m, nil
}

// templateSource reads template files, from dir when it holds the file and
// from the built-in set otherwise.
type templateSource struct {
	dir   string
	files map[string]bool // base names present in dir
}

func (s templateSource) read(file string) (text, origin string, err error) {
	if s.files[file] {
		p := filepath.Join(s.dir, file)
		b, err := os.ReadFile(p)
		if err != nil {
			return "", "", fmt.Errorf("read mail template: %w", err)
		}
		return string(b), p, nil
	}
	b, err := builtinTemplates.ReadFile(builtinTemplateDir + "/" + file)
	if err != nil {
		return "", "", fmt.Errorf("read built-in mail template %s: %w", file, err)
	}
	return string(b), "built-in " + file, nil
}

// templateFiles lists every template file name keyrotor reads.
func templateFiles() []string {
	var out []string
	names := []string{digestTemplateName, footerTemplateName}
	for _, e := range noticeEvents {
		names = append(names, string(e))
	}
	for _, n := range names {
		for _, ext := range []string{extSubject, extText, extHTML} {
			if n == footerTemplateName && ext == extSubject {
				continue
			}
			out = append(out, n+ext)
		}
	}
	slices.Sort(out)
	return out
}

// loadMailTemplates parses the templates, each file from dir when present
// there. A file in dir with a template suffix but an unknown name is an
// error, since a misspelt override would otherwise be ignored silently.
func loadMailTemplates(dir string) (map[string]*mailTemplate, error) {
	src := templateSource{dir: dir, files: map[string]bool{}}
	if dir != "" {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("read notifications.templates_dir: %w", err)
		}
		known := templateFiles()
		for _, en := range entries {
			name := en.Name()
			ext := filepath.Ext(name)
			if ext != extSubject && ext != extText && ext != extHTML {
				continue
			}
			if !slices.Contains(known, name) {
				return nil, fmt.Errorf("notifications.templates_dir %s: unknown mail template %s (known: %s)",
					dir, name, strings.Join(known, ", "))
			}
			if !en.Type().IsRegular() && en.Type()&fs.ModeSymlink == 0 {
				return nil, fmt.Errorf("notifications.templates_dir %s: %s is not a regular file", dir, name)
			}
			src.files[name] = true
		}
	}
	set := map[string]*mailTemplate{}
	for _, e := range noticeEvents {
		t, err := parseMailTemplate(src, string(e), true)
		if err != nil {
			return nil, err
		}
		set[string(e)] = t
	}
	t, err := parseMailTemplate(src, digestTemplateName, false)
	if err != nil {
		return nil, err
	}
	set[digestTemplateName] = t
	return set, nil
}

// parseMailTemplate parses one mail's subject, text and HTML templates,
// with the shared footer partials when footer is set.
func parseMailTemplate(src templateSource, name string, footer bool) (*mailTemplate, error) {
	parseText := func(file string, partials ...string) (*ttemplate.Template, error) {
		text, origin, err := src.read(file)
		if err != nil {
			return nil, err
		}
		t, err := ttemplate.New(file).Option("missingkey=error").Funcs(ttemplate.FuncMap(mailFuncs)).Parse(text)
		if err != nil {
			return nil, fmt.Errorf("parse mail template %s: %w", origin, err)
		}
		for _, p := range partials {
			ptext, porigin, err := src.read(p)
			if err != nil {
				return nil, err
			}
			if _, err := t.New(footerTemplateName).Parse(ptext); err != nil {
				return nil, fmt.Errorf("parse mail template %s: %w", porigin, err)
			}
		}
		return t, nil
	}
	mt := &mailTemplate{name: name}
	var err error
	if mt.subject, err = parseText(name + extSubject); err != nil {
		return nil, err
	}
	var partials []string
	if footer {
		partials = []string{footerTemplateName + extText}
	}
	if mt.text, err = parseText(name+extText, partials...); err != nil {
		return nil, err
	}

	file := name + extHTML
	text, origin, err := src.read(file)
	if err != nil {
		return nil, err
	}
	h, err := htemplate.New(file).Option("missingkey=error").Funcs(htemplate.FuncMap(mailFuncs)).Parse(text)
	if err != nil {
		return nil, fmt.Errorf("parse mail template %s: %w", origin, err)
	}
	if footer {
		ptext, porigin, err := src.read(footerTemplateName + extHTML)
		if err != nil {
			return nil, err
		}
		if _, err := h.New(footerTemplateName).Parse(ptext); err != nil {
			return nil, fmt.Errorf("parse mail template %s: %w", porigin, err)
		}
	}
	mt.html = h
	return mt, nil
}
