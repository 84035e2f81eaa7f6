package main

import (
	"context"
	"encoding/csv"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"yipanqi"
	"yipanqi/directory"
	"yipanqi/sqlstore"
)

func init() {
	moreCommands["directory"] = command{"区域名录（政策法规、服务机构、工作机构联系方式）：directory import|export|list|versions|seed", runDirectory}
}

const directoryUsage = `用法：
  yipanqi directory import   [--db DSN] --province 44 [--version N] FILE.xlsx
        以工作簿替换本省的全部名录（新版本号默认为现有版本加 1）；有问题的行逐条列出，
        写入 FILE.errors.csv，全部改正前不导入任何内容
  yipanqi directory export   [--db DSN] --province 44 -o FILE.xlsx   导出一个省的名录，格式同导入
  yipanqi directory list     [--db DSN] [--province 44] [--kind 联系方式] [--level 3] [--division 440106]
                             [--q 文字] [--limit 50] [--offset 0]   查询名录
  yipanqi directory versions [--db DSN]                               本节点持有的各省名录版本
  yipanqi directory seed     [--db DSN] [--province 44] [--townships 2] 生成演示名录（虚构，默认 11 个省）
模板：templates/名录模板.xlsx`

// runDirectory dispatches the directory subcommands.
func runDirectory(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 {
		return usageError("缺少子命令\n%s", directoryUsage)
	}
	sub := map[string]func(context.Context, *Env, []string) error{
		"import": runDirectoryImport, "export": runDirectoryExport, "list": runDirectoryList,
		"versions": runDirectoryVersions, "seed": runDirectorySeed,
	}
	if fn, ok := sub[args[0]]; ok {
		return fn(ctx, env, args[1:])
	}
	switch args[0] {
	case "-h", "--help", "help":
		fmt.Fprintln(env.Stdout, directoryUsage)
		return nil
	}
	return usageError("未知的子命令“%s”\n%s", args[0], directoryUsage)
}

func directoryFlags(name string, env *Env) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("directory "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs, dbFlag(fs, env)
}

func directoryProvince(p string, required bool) error {
	if p == "" && !required {
		return nil
	}
	if p == "" {
		return usageError("缺少 --province（本省的 2 位区划代码，如 44）\n%s", directoryUsage)
	}
	if yipanqi.LevelOf(p) != yipanqi.LevelProvince {
		return usageError("--province“%s”无效：应为 2 位数字的省级区划代码，如 44", p)
	}
	return nil
}

// runDirectoryImport replaces the province's directory with a workbook's entries, or, when
// the workbook has problems, lists them and changes nothing (exit 1).
func runDirectoryImport(ctx context.Context, env *Env, args []string) error {
	fs, dsn := directoryFlags("import", env)
	province := fs.String("province", "", "")
	version := fs.Int64("version", 0, "")
	rest, err := regParseFlags(fs, args, directoryUsage)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return usageError("directory import 需要一个 .xlsx 文件\n%s", directoryUsage)
	}
	if err := directoryProvince(*province, true); err != nil {
		return err
	}
	if *version < 0 {
		return usageError("--version 应为正整数")
	}
	path := rest[0]
	tree, err := loadDivisions(env)
	if err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return exitCode(2, yipanqi.Errorf(yipanqi.EINVALID, "无法打开文件“%s”：%v", path, regPathError(err)))
	}
	entries, probs, err := directory.Read(f, filepath.Base(path), *province, tree)
	f.Close()
	if err != nil {
		return exitCode(2, err)
	}
	if len(probs) > 0 {
		errPath := strings.TrimSuffix(path, filepath.Ext(path)) + ".errors.csv"
		if werr := writeDirectoryProblems(errPath, probs); werr != nil {
			return werr
		}
		const shown = 20
		for i, p := range probs {
			if i == shown {
				fmt.Fprintf(env.Stderr, "……另有 %d 个问题\n", len(probs)-shown)
				break
			}
			fmt.Fprintln(env.Stderr, p.String())
		}
		return yipanqi.Errorf(yipanqi.EINVALID, "名录未导入：文件“%s”有 %d 个问题，已全部写入“%s”；改正后重新导入", filepath.Base(path), len(probs), errPath)
	}
	db, err := openStore(ctx, *dsn)
	if err != nil {
		return exitCode(2, err)
	}
	defer db.Close()
	db.Now = env.Now
	v, err := nextDirectoryVersion(ctx, db, *province, *version)
	if err != nil {
		return err
	}
	if err := db.ReplaceProvinceDirectory(ctx, yipanqi.DirectoryVersion{Province: *province, Version: v}, entries); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "已导入 %s 名录第 %d 版：%s\n", *province, v, directoryCounts(entries))
	return nil
}

// nextDirectoryVersion returns want, or when it is 0 the version after the one held.
func nextDirectoryVersion(ctx context.Context, db *sqlstore.DB, province string, want int64) (int64, error) {
	if want > 0 {
		return want, nil
	}
	held, err := db.DirectoryVersion(ctx, province)
	switch yipanqi.ErrorCode(err) {
	case "":
		return held.Version + 1, nil
	case yipanqi.ENOTFOUND:
		return 1, nil
	}
	return 0, err
}

func directoryCounts(entries []yipanqi.DirectoryEntry) string {
	n := map[yipanqi.EntryKind]int{}
	for _, e := range entries {
		n[e.Kind]++
	}
	var parts []string
	for _, k := range yipanqi.EntryKinds() {
		parts = append(parts, fmt.Sprintf("%s %d 条", k.Label(), n[k]))
	}
	return strings.Join(parts, "，")
}

// writeDirectoryProblems writes the problem report as CSV in UTF-8 with a byte-order mark.
func writeDirectoryProblems(path string, probs []directory.Problem) error {
	return regWriteAtomically(path, func(w io.Writer) error {
		if _, err := io.WriteString(w, "\ufeff"); err != nil {
			return err
		}
		cw := csv.NewWriter(w)
		cw.UseCRLF = true
		_ = cw.Write([]string{"工作表", "行号", "列", "问题"})
		for _, p := range probs {
			_ = cw.Write([]string{p.Sheet, strconv.Itoa(p.Row), p.Column, p.Message})
		}
		cw.Flush()
		return cw.Error()
	})
}

// runDirectoryExport writes a province's directory as a workbook.
func runDirectoryExport(ctx context.Context, env *Env, args []string) error {
	fs, dsn := directoryFlags("export", env)
	province := fs.String("province", "", "")
	out := fs.String("o", "", "")
	rest, err := regParseFlags(fs, args, directoryUsage)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageError("多余的参数“%s”（输出文件用 -o 指定）\n%s", strings.Join(rest, " "), directoryUsage)
	}
	if err := directoryProvince(*province, true); err != nil {
		return err
	}
	if !strings.EqualFold(filepath.Ext(*out), ".xlsx") {
		return usageError("-o 应为 .xlsx 文件\n%s", directoryUsage)
	}
	db, err := openStore(ctx, *dsn)
	if err != nil {
		return exitCode(2, err)
	}
	defer db.Close()
	v, entries, err := db.ProvinceDirectory(ctx, *province)
	if err != nil {
		return err
	}
	if err := regWriteAtomically(*out, func(w io.Writer) error { return directory.Write(w, entries) }); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "已导出 %s 名录第 %d 版到“%s”：%s\n", *province, v.Version, *out, directoryCounts(entries))
	return nil
}

// runDirectoryList prints a page of the directory.
func runDirectoryList(ctx context.Context, env *Env, args []string) error {
	fs, dsn := directoryFlags("list", env)
	var f yipanqi.DirectoryFilter
	fs.StringVar(&f.Province, "province", "", "")
	kind := fs.String("kind", "", "")
	level := fs.Int("level", 0, "")
	fs.StringVar(&f.Division, "division", "", "")
	fs.StringVar(&f.Text, "q", "", "")
	fs.IntVar(&f.Limit, "limit", 50, "")
	fs.IntVar(&f.Offset, "offset", 0, "")
	rest, err := regParseFlags(fs, args, directoryUsage)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageError("多余的参数“%s”\n%s", strings.Join(rest, " "), directoryUsage)
	}
	if err := directoryProvince(f.Province, false); err != nil {
		return err
	}
	if *kind != "" {
		k, ok := yipanqi.ParseEntryKind(*kind)
		if !ok {
			return usageError("--kind“%s”无效：应为 政策法规、服务机构 或 联系方式", *kind)
		}
		f.Kind = k
	}
	f.Level = yipanqi.Level(*level)
	db, err := openStore(ctx, *dsn)
	if err != nil {
		return exitCode(2, err)
	}
	defer db.Close()
	entries, total, err := db.Directory(ctx, f)
	if err != nil {
		return exitCode(2, err)
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "省\t类别\t区划\t名称\t职责/文号/服务\t姓名/日期\t电话")
	for _, e := range entries {
		detail, who := "", ""
		switch e.Kind {
		case yipanqi.EntryRegulation:
			detail, who = e.DocNumber, e.IssuedOn.String()+" "+e.Status.Label()
		case yipanqi.EntryInstitution:
			detail = e.Services
		case yipanqi.EntryContact:
			detail, who = e.Role.Label(), e.PersonName
		}
		fmt.Fprintf(tw, "%s\t%s\t%s %s\t%s\t%s\t%s\t%s\n", e.Province, e.Kind.Label(), e.DivisionCode, e.DivisionName,
			e.Name, detail, who, e.Phone)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "共 %d 条，本页第 %d–%d 条\n", total, min(f.Offset+1, total), f.Offset+len(entries))
	return nil
}

// runDirectoryVersions prints the version held of every province's directory.
func runDirectoryVersions(ctx context.Context, env *Env, args []string) error {
	fs, dsn := directoryFlags("versions", env)
	rest, err := regParseFlags(fs, args, directoryUsage)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageError("多余的参数“%s”\n%s", strings.Join(rest, " "), directoryUsage)
	}
	db, err := openStore(ctx, *dsn)
	if err != nil {
		return exitCode(2, err)
	}
	defer db.Close()
	vs, err := db.DirectoryVersions(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "省\t版本\t条目\t更新时间")
	for _, v := range vs {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\n", v.Province, v.Version, v.Entries, v.UpdatedAt.In(yipanqi.Shanghai).Format("2006-01-02 15:04"))
	}
	return tw.Flush()
}

// runDirectorySeed stores the generated demo directory of one province or of all eleven, each
// as the version after the one held.
func runDirectorySeed(ctx context.Context, env *Env, args []string) error {
	fs, dsn := directoryFlags("seed", env)
	province := fs.String("province", "", "")
	towns := fs.Int("townships", 2, "")
	rest, err := regParseFlags(fs, args, directoryUsage)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageError("多余的参数“%s”\n%s", strings.Join(rest, " "), directoryUsage)
	}
	if err := directoryProvince(*province, false); err != nil {
		return err
	}
	if *towns < 0 {
		return usageError("--townships 不能为负数")
	}
	provinces := yipanqi.RegionCodes()
	if *province != "" {
		provinces = []string{*province}
	}
	tree, err := loadDivisions(env)
	if err != nil {
		return err
	}
	opts := directory.SeedOptions{TownshipsPerCounty: *towns}
	if *towns == 0 {
		opts.TownshipsPerCounty = -1
	}
	db, err := openStore(ctx, *dsn)
	if err != nil {
		return exitCode(2, err)
	}
	defer db.Close()
	db.Now = env.Now
	for _, p := range provinces {
		entries, err := directory.Seed(tree, p, opts)
		if err != nil {
			return exitCode(2, err)
		}
		v, err := nextDirectoryVersion(ctx, db, p, 0)
		if err != nil {
			return err
		}
		if err := db.ReplaceProvinceDirectory(ctx, yipanqi.DirectoryVersion{Province: p, Version: v}, entries); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "%s 演示名录第 %d 版：%s\n", p, v, directoryCounts(entries))
	}
	return nil
}
