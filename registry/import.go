package registry

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"sync"

	"yipanqi"
)

// Stager takes the valid rows of an import. The store's bulk import satisfies it; rows it
// receives have passed the Validator.
type Stager interface {
	// Add stages one person read from data row row (1-based, the header not counted). An
	// EINVALID error rejects that row only; any other error ends the import.
	Add(row int, p *yipanqi.Person) error
}

// ProblemSink receives each problem as it is found: those of one row together, rows mostly in
// order (a row the Stager refuses is reported when it is staged). Calls are never concurrent.
type ProblemSink interface {
	Problem(Problem) error
}

// Result counts what an import read.
type Result struct {
	Layout    *Layout // the columns found; nil when the header was not read
	HeaderRow int     // sheet row number of the header
	Rows      int     // data rows read (blank rows are not counted)
	Staged    int     // rows handed to the Stager
	Rejected  int     // rows rejected, each with at least one problem
	Problems  int     // problems reported
}

// SheetRow returns the sheet row number (as Excel shows it, and as Problem.Row counts) of a
// 1-based data row number (as Stager.Add counts).
func (r Result) SheetRow(dataRow int) int { return r.HeaderRow + dataRow }

// Importer reads a register file, validates it row by row and stages the valid rows.
type Importer struct {
	Validator *Validator
	Stager    Stager
	Problems  ProblemSink

	// Progress, when set, is called now and then with the source's progress.
	Progress func(done, total int64)
}

// batch is the unit handed from the reading goroutine to the staging one: enough rows to
// make the channel hand-over cheap, few enough to keep memory flat.
const batchSize = 512

type staged struct {
	people [batchSize]yipanqi.Person
	rows   [batchSize]int
	n      int
}

// Run imports every row of src. The header is looked for in the first rows of the sheet.
// Reading and validating run in one goroutine, staging in the calling one, so the two overlap.
//
// Errors: EINVALID when the file has no header row or lacks required columns (nothing was
// staged then); the Stager's or the sink's error, or ctx's, which end the import part way —
// the caller discards what was staged.
func (im *Importer) Run(ctx context.Context, src Source) (Result, error) {
	var res Result
	layout, err := im.header(src, &res)
	if err != nil {
		return res, err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sink := &lockedSink{sink: im.Problems}
	batches := make(chan *staged, 4)
	readErr := make(chan error, 1)
	var read Result // owned by the reading goroutine until readErr is received
	go func() {
		defer close(batches)
		readErr <- im.read(ctx, src, layout, sink, &read, batches)
	}()

	var stageErr error
	for b := range batches {
		if stageErr == nil {
			stageErr = im.stage(b, sink, &res)
			if stageErr != nil {
				cancel()
			}
		}
	}
	err = <-readErr
	res.Rows += read.Rows
	res.Rejected += read.Rejected
	res.Problems += read.Problems
	if err != nil && stageErr == nil {
		return res, err
	}
	if stageErr != nil {
		return res, stageErr
	}
	return res, ctx.Err()
}

// header finds the header row: the first of the top rows that names two or more columns of
// the layout; failing that, the first non-blank row, so that the error lists what is missing.
func (im *Importer) header(src Source, res *Result) (*Layout, error) {
	var first []string
	firstRow := 0
	for seen := 0; seen < headerSearchRows; {
		row, cells, err := src.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if yipanqi.ErrorCode(err) == yipanqi.EINVALID {
				return nil, err
			}
			return nil, fmt.Errorf("read header: %w", err)
		}
		if isBlankRow(cells) {
			continue
		}
		seen++
		if first == nil {
			first, firstRow = append([]string(nil), cells...), row
		}
		if knownHeaders(cells) >= 2 {
			l, err := ParseHeader(cells)
			if err != nil {
				return nil, err
			}
			l.Row = row
			res.HeaderRow, res.Layout = row, l
			return l, nil
		}
	}
	if first == nil {
		return nil, yipanqi.Errorf(yipanqi.EINVALID, "文件是空的：没有表头，也没有数据行")
	}
	l, err := ParseHeader(first)
	if err != nil {
		return nil, err
	}
	l.Row, res.HeaderRow, res.Layout = firstRow, firstRow, l
	return l, nil
}

// read validates rows and sends full batches; problems go to the sink as they are found.
//
// Batches are not reused: a Stager may keep the *Person it was given until it commits.
func (im *Importer) read(ctx context.Context, src Source, l *Layout, sink *lockedSink, res *Result, out chan<- *staged) error {
	var probs []Problem
	b := &staged{}
	send := func() error {
		select {
		case out <- b:
		case <-ctx.Done():
			return ctx.Err()
		}
		b = &staged{}
		return nil
	}
	for i := 0; ; i++ {
		row, cells, err := src.Next()
		if err == io.EOF {
			break
		}
		if i&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			if im.Progress != nil {
				im.Progress(src.Progress())
			}
		}
		var pe *csv.ParseError
		switch {
		case errors.As(err, &pe):
			res.Rows++
			res.Rejected++
			if err := sink.report(res, Problem{Row: row, Reason: fmt.Sprintf("该行不是有效的 CSV：%v", pe.Err)}); err != nil {
				return err
			}
			continue
		case err != nil:
			return err
		}
		if l.blank(cells) {
			continue
		}
		res.Rows++
		p := &b.people[b.n]
		var ok bool
		probs, ok = im.Validator.Check(l, row, cells, p, probs[:0])
		if !ok {
			res.Rejected++
			for _, pr := range probs {
				if err := sink.report(res, pr); err != nil {
					return err
				}
			}
			continue
		}
		b.rows[b.n] = row - l.Row
		b.n++
		if b.n == batchSize {
			if err := send(); err != nil {
				return err
			}
		}
	}
	if im.Progress != nil {
		im.Progress(src.Progress())
	}
	if b.n > 0 {
		return send()
	}
	return nil
}

// lockedSink lets the reading and the staging goroutine report problems to one sink.
type lockedSink struct {
	mu   sync.Mutex
	sink ProblemSink
}

func (s *lockedSink) report(res *Result, p Problem) error {
	res.Problems++
	if s.sink == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sink.Problem(p)
}

// stage hands a batch to the Stager. Rows the Stager refuses as invalid are reported like
// rows the Validator refused.
func (im *Importer) stage(b *staged, sink *lockedSink, res *Result) error {
	for i := 0; i < b.n; i++ {
		err := im.Stager.Add(b.rows[i], &b.people[i])
		if err == nil {
			res.Staged++
			continue
		}
		if yipanqi.ErrorCode(err) != yipanqi.EINVALID {
			return fmt.Errorf("stage row %d: %w", b.rows[i], err)
		}
		res.Rejected++
		if err := sink.report(res, Problem{Row: b.rows[i] + res.HeaderRow, Column: yipanqi.ErrorField(err), Reason: yipanqi.ErrorMessage(err)}); err != nil {
			return err
		}
	}
	return nil
}
