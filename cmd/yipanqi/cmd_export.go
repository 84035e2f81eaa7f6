package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"yipanqi"
	"yipanqi/division"
	"yipanqi/registry"
	"yipanqi/sqlstore"
)

const exportUsage = `用法：
  yipanqi export people [--db DSN] [--scope CODE] [--encoding UTF-8|GB18030] -o FILE.csv|FILE.xlsx
按导入模板的格式导出流动人口登记表（CSV 默认为带 BOM 的 UTF-8），导出后的文件可原样再导入。
  --db     数据库：sqlite:文件路径 或 postgres://…（默认取环境变量 YIPANQI_DB，再默认 sqlite:yipanqi.db）
  --scope  导出范围：现居住地在该区划（2、4、6、9 或 12 位代码）之内的人员；
           库中只有一个省的人员时可省略，即导出该省
  --encoding  CSV 的字符编码：UTF-8（默认）或 GB18030（2022 版编码）
  -o       输出文件，扩展名 .csv 或 .xlsx`

// runExport writes the registry, or the part of it under one division: export people.
func runExport(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 || args[0] != "people" {
		if len(args) > 0 && (args[0] == "help" || args[0] == "-h" || args[0] == "--help") {
			fmt.Fprintln(env.Stdout, exportUsage)
			return nil
		}
		return usageError("export 只支持 people\n%s", exportUsage)
	}
	fs := flag.NewFlagSet("export people", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dsn := dbFlag(fs, env)
	scopeCode := fs.String("scope", "", "")
	out := fs.String("o", "", "")
	encName := fs.String("encoding", "UTF-8", "")
	rest, err := regParseFlags(fs, args[1:], exportUsage)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageError("多余的参数“%s”（输出文件用 -o 指定）\n%s", strings.Join(rest, " "), exportUsage)
	}
	format, err := regFormat(*out, "-o")
	if err != nil {
		return err
	}
	var enc registry.Encoding
	switch strings.ToUpper(*encName) {
	case "UTF-8", "UTF8":
		enc = registry.UTF8
	case "GB18030":
		enc = registry.GB18030
		if format != registry.FormatCSV {
			return usageError("--encoding 只用于 CSV：.xlsx 工作簿总是 Unicode")
		}
	default:
		return usageError("--encoding“%s”无效：应为 UTF-8 或 GB18030", *encName)
	}
	var scope yipanqi.Scope
	if *scopeCode != "" {
		if scope, err = yipanqi.NewScope(*scopeCode); err != nil {
			return usageError("--scope“%s”无效：应为 2、4、6、9 或 12 位数字的行政区划代码", *scopeCode)
		}
	}
	tree, err := loadDivisions(env)
	if err != nil {
		return err
	}
	if *scopeCode != "" && !tree.Exists(*scopeCode) {
		return usageError("--scope“%s”不是已知的行政区划代码", *scopeCode)
	}

	db, err := openStore(ctx, *dsn)
	if err != nil {
		return exitCode(2, err)
	}
	defer db.Close()
	db.Now = env.Now
	if scope.IsZero() {
		if scope, err = soleProvince(ctx, db, tree); err != nil {
			return err
		}
	}

	bar := newRegProgress(env, -1, "导出", false)
	n := 0
	err = regWriteAtomically(*out, func(w io.Writer) error {
		var rw registry.Writer
		var err error
		if format == registry.FormatCSV {
			rw, err = registry.NewCSVWriterEncoding(w, enc)
		} else {
			rw, err = registry.NewWriter(w, format)
		}
		if err != nil {
			return err
		}
		if err := db.ExportPeople(ctx, scope, regActor(), func(p *yipanqi.Person) error {
			n++
			if n&1023 == 0 {
				bar.set(int64(n))
			}
			return rw.Write(p)
		}); err != nil {
			return err
		}
		return rw.Close()
	})
	bar.finish()
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "exported %d\n", n)
	return nil
}

// soleProvince is the scope of an export without --scope: the one province whose residents
// the store holds. A usage error when it holds people of several provinces, or none.
func soleProvince(ctx context.Context, db *sqlstore.DB, tree *division.Tree) (yipanqi.Scope, error) {
	var held []string
	var scope yipanqi.Scope
	for _, p := range tree.Provinces() {
		s, err := yipanqi.NewScope(p.Code)
		if err != nil {
			return scope, err
		}
		total, err := db.CountPeople(ctx, s)
		if err != nil {
			return scope, err
		}
		if total > 0 {
			held = append(held, p.Code)
			scope = s
		}
	}
	switch len(held) {
	case 0:
		return scope, usageError("库中没有任何人员：请用 --scope 指定导出范围")
	case 1:
		return scope, nil
	}
	return yipanqi.Scope{}, usageError("库中有多个省份的人员（%s）：请用 --scope 指定导出范围", strings.Join(held, "、"))
}
