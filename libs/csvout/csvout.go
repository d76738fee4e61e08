// Package csvout writes the CSV files the platform hands out (the error reports of fuel
// imports, and every list and report libs/export writes). Every CSV or XLSX file ClearSky
// writes goes through it, so that none can run code in the spreadsheet that opens it:
//
//   - the file starts with a UTF-8 byte order mark, so that Excel reads Chinese text as UTF-8;
//   - every cell that a spreadsheet would read as a formula (first character =, +, -, @, a tab
//     or a carriage return) is prefixed with a single quote ', as OWASP recommends for CSV
//     injection; the cell then shows as the text it was;
//   - quoting is encoding/csv's (a cell with a separator, a quote or a line break is quoted).
//
// A number written as text by Write ("-10", a diesel grade as sent) is neutralised too: the
// quote shows, and the value is read back as text, which is what a report of what was sent
// should show. WriteCells takes cells already made safe, for exports whose numbers are numbers.
package csvout

import (
	"encoding/csv"
	"io"
)

// BOM is the UTF-8 byte order mark every file starts with.
const BOM = "\ufeff"

// Writer writes one CSV file.
type Writer struct {
	w       *csv.Writer
	started bool
	out     io.Writer
}

// New returns a writer to w; the BOM is written with the first row.
func New(w io.Writer) *Writer { return &Writer{w: csv.NewWriter(w), out: w} }

// Neutralise returns cell as it is safe to write: with a leading ' when a spreadsheet would
// take it for a formula.
func Neutralise(cell string) string {
	if cell == "" {
		return cell
	}
	switch cell[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + cell
	}
	return cell
}

// Write writes one row, every cell neutralised.
func (w *Writer) Write(row []string) error {
	out := make([]string, len(row))
	for i, c := range row {
		out[i] = Neutralise(c)
	}
	return w.WriteCells(out)
}

// WriteCells writes one row of cells the caller has already made safe: text through
// Neutralise, numbers as they are (a number cannot be a formula, and "-10" must stay -10 in a
// data export).
func (w *Writer) WriteCells(row []string) error {
	if err := w.start(); err != nil {
		return err
	}
	return w.w.Write(row)
}

func (w *Writer) start() error {
	if w.started {
		return nil
	}
	w.started = true
	_, err := io.WriteString(w.out, BOM)
	return err
}

// Flush writes what is buffered and reports an error of any write.
func (w *Writer) Flush() error {
	if err := w.start(); err != nil {
		return err
	}
	w.w.Flush()
	return w.w.Error()
}
