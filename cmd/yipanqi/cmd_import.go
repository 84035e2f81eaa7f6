package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"yipanqi"
	"yipanqi/registry"
)

const importUsage = `用法：
  yipanqi import people [--db DSN] [--errors PATH] FILE
导入流动人口登记表（.xlsx，或 UTF-8 / GB18030 编码的 CSV）。有效行按公民身份号码新增或更新，
有问题的行不导入，原因写入错误文件（默认与 FILE 同目录的“文件名.errors.csv”）。
  --db      数据库：sqlite:文件路径 或 postgres://…（默认取环境变量 YIPANQI_DB，再默认 sqlite:yipanqi.db）
  --errors  错误文件路径
退出码：0 全部导入；1 有行被拒绝（其余已导入）；2 什么也没导入（文件无法读取、缺列、数据库无法连接等）。`

// runImport imports a register file: import people.
func runImport(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 || args[0] != "people" {
		if len(args) > 0 && (args[0] == "help" || args[0] == "-h" || args[0] == "--help") {
			fmt.Fprintln(env.Stdout, importUsage)
			return nil
		}
		return usageError("import 只支持 people\n%s", importUsage)
	}
	fs := flag.NewFlagSet("import people", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dsn := dbFlag(fs, env)
	errPath := fs.String("errors", "", "")
	files, err := regParseFlags(fs, args[1:], importUsage)
	if err != nil {
		return err
	}
	if len(files) != 1 {
		return usageError("需要且只需要一个要导入的文件，收到 %d 个\n%s", len(files), importUsage)
	}
	path := files[0]
	if *errPath == "" {
		*errPath = strings.TrimSuffix(path, filepath.Ext(path)) + ".errors.csv"
	}
	if abs(*errPath) == abs(path) {
		return usageError("--errors 不能是要导入的文件本身")
	}

	tree, err := loadDivisions(env)
	if err != nil {
		return err
	}
	today, err := regToday(env, "")
	if err != nil {
		return err
	}
	src, format, err := registry.Open(path)
	if err != nil {
		return exitCode(2, err)
	}
	defer src.Close()

	db, err := openStore(ctx, *dsn)
	if err != nil {
		return exitCode(2, err)
	}
	defer db.Close()
	db.Now = env.Now
	pim, err := db.BeginPeopleImport(ctx, regActor(), filepath.Base(path))
	if err != nil {
		return exitCode(2, err)
	}
	defer pim.Rollback() // a no-op after Commit

	ef, err := newErrorFile(*errPath)
	if err != nil {
		return exitCode(2, err)
	}
	defer ef.discard()

	done, total := src.Progress()
	if format != registry.FormatCSV || total == 0 {
		total = -1 // rows of an .xlsx sheet: a spinner, the count is not known in advance
	}
	bar := newRegProgress(env, total, "导入", format == registry.FormatCSV)
	bar.set(done)
	im := &registry.Importer{
		Validator: &registry.Validator{Divisions: tree, Today: today, ExcelDates: format == registry.FormatXLSX},
		Stager:    pim,
		Problems:  ef.w,
		Progress:  func(done, _ int64) { bar.set(done) },
	}
	res, err := im.Run(ctx, src)
	if err != nil {
		bar.finish()
		if errors.Is(err, context.Canceled) {
			return exitCode(2, yipanqi.Errorf(yipanqi.EINVALID, "导入已中断，没有写入任何数据"))
		}
		var e *yipanqi.Error
		if errors.As(err, &e) {
			// The header is wrong: say which file.
			return exitCode(2, yipanqi.Errorf(e.Code, "文件“%s”：%s", filepath.Base(path), e.Message))
		}
		return exitCode(2, err)
	}
	pim.CountRejected(res.Rejected)
	bar.describe("写入数据库") // the merge at commit can take as long as the reading
	stats, dups, err := pim.Commit(ctx)
	bar.finish()
	if err != nil {
		return exitCode(2, err)
	}

	rejected := res.Rejected
	for _, d := range dups {
		rows := make([]string, len(d.Rows))
		for i, r := range d.Rows {
			rows[i] = strconv.Itoa(res.SheetRow(r))
		}
		reason := fmt.Sprintf("公民身份号码在文件中重复出现（第 %s 行），这些行都没有导入：请核对后只保留一行", strings.Join(rows, "、"))
		for _, r := range d.Rows {
			rejected++
			p := registry.Problem{Row: res.SheetRow(r), Column: res.Layout.Name(registry.ColIDNumber), Value: d.IDNumber, Reason: reason}
			if err := ef.w.Problem(p); err != nil {
				return fmt.Errorf("write %s: %w", *errPath, err)
			}
		}
	}
	if err := ef.keep(ef.w.Count() > 0); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "imported %d, updated %d, rejected %d\n", stats.Imported, stats.Updated, rejected)
	if rejected > 0 {
		return exitCode(1, yipanqi.Errorf(yipanqi.EINVALID, "有 %d 行未导入，原因见 %s", rejected, *errPath))
	}
	return nil
}

// regActor names the person at the terminal for the audit log: "cli:" and the OS user name.
func regActor() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return "cli:" + u.Username
	}
	return "cli:unknown"
}

func abs(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return a
}

// errorFile is the error file being written (mode 0600: it quotes the rejected rows'
// personal data): a temporary file beside its final path, renamed
// to it when there were problems, removed (with any stale error file of an earlier run) when
// there were none.
type errorFile struct {
	path string
	tmp  *os.File
	w    *registry.ErrorFile
}

func newErrorFile(path string) (*errorFile, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return nil, yipanqi.Errorf(yipanqi.EINVALID, "无法创建错误文件“%s”：%v", path, regPathError(err))
	}
	w, err := registry.NewErrorFile(tmp)
	if err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	return &errorFile{path: path, tmp: tmp, w: w}, nil
}

// keep finishes the file: renamed into place when problems were written, else removed along
// with a stale error file.
func (e *errorFile) keep(problems bool) error {
	if err := e.w.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", e.path, err)
	}
	if err := e.tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", e.path, err)
	}
	name := e.tmp.Name()
	e.tmp = nil
	if !problems {
		os.Remove(name)
		if err := os.Remove(e.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove stale %s: %w", e.path, err)
		}
		return nil
	}
	if err := os.Chmod(name, 0o600); err != nil { // it quotes the rows: personal data
		return fmt.Errorf("write %s: %w", e.path, err)
	}
	return os.Rename(name, e.path)
}

// discard removes the temporary file when the import failed before keep.
func (e *errorFile) discard() {
	if e.tmp != nil {
		e.tmp.Close()
		os.Remove(e.tmp.Name())
	}
}
