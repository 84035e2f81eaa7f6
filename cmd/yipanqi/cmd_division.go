package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
)

const divisionUsage = `用法：
  yipanqi division show CODE        区划的各级名称与全称
  yipanqi division children CODE    下一级区划
  yipanqi division search [-n N] NAME  按名称查找（默认最多 50 条）
环境变量 YIPANQI_DIVISIONS 指向新版区划数据目录时，用它代替内置数据。`

// runDivision answers questions about administrative divisions: show, children, search.
func runDivision(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 {
		return usageError("缺少子命令\n%s", divisionUsage)
	}
	switch args[0] {
	case "show":
		return divisionShow(env, args[1:])
	case "children":
		return divisionChildren(env, args[1:])
	case "search":
		return divisionSearch(env, args[1:])
	case "help", "-h", "--help":
		fmt.Fprintln(env.Stdout, divisionUsage)
		return nil
	}
	return usageError("未知子命令“%s”\n%s", args[0], divisionUsage)
}

// divisionCode returns the one CODE argument of show and children.
func divisionCode(sub string, args []string) (string, error) {
	switch len(args) {
	case 0:
		return "", usageError("division %s 缺少参数 CODE（行政区划代码）\n%s", sub, divisionUsage)
	case 1:
		return args[0], nil
	}
	return "", usageError("division %s 只接受一个行政区划代码，收到 %d 个参数\n%s", sub, len(args), divisionUsage)
}

// divisionShow prints each level from the province down as the data names it, then the full
// name.
func divisionShow(env *Env, args []string) error {
	code, err := divisionCode("show", args)
	if err != nil {
		return err
	}
	tree, err := loadDivisions(env)
	if err != nil {
		return err
	}
	path, err := tree.Ancestors(code)
	if err != nil {
		return err
	}
	full, err := tree.FullName(code)
	if err != nil {
		return err
	}
	var b strings.Builder
	for _, d := range path {
		fmt.Fprintf(&b, "%s %s\n", d.Code, d.Name)
	}
	fmt.Fprintf(&b, "全称：%s\n", full)
	_, err = io.WriteString(env.Stdout, b.String())
	return err
}

// divisionChildren prints the divisions one level down, "<code> <name>" a line.
func divisionChildren(env *Env, args []string) error {
	code, err := divisionCode("children", args)
	if err != nil {
		return err
	}
	tree, err := loadDivisions(env)
	if err != nil {
		return err
	}
	kids, err := tree.Children(code)
	if err != nil {
		return err
	}
	var b strings.Builder
	for _, d := range kids {
		fmt.Fprintf(&b, "%s %s\n", d.Code, d.Name)
	}
	_, err = io.WriteString(env.Stdout, b.String())
	return err
}

// divisionSearch prints the divisions whose name contains NAME, "<code> <full name>" a line,
// shallow levels first, and says on stderr when it stopped at the limit.
func divisionSearch(env *Env, args []string) error {
	fs := flag.NewFlagSet("division search", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	limit := fs.Int("n", 50, "")
	if err := fs.Parse(args); err != nil {
		return usageError("division search 参数错误：%v\n%s", err, divisionUsage)
	}
	if *limit <= 0 {
		return usageError("division search 的 -n 应为正整数，收到 %d", *limit)
	}
	if fs.NArg() != 1 || fs.Arg(0) == "" {
		return usageError("division search 需要一个名称参数 NAME\n%s", divisionUsage)
	}
	tree, err := loadDivisions(env)
	if err != nil {
		return err
	}
	found := tree.Search(fs.Arg(0), *limit+1)
	more := len(found) > *limit
	if more {
		found = found[:*limit]
	}
	var b strings.Builder
	for _, d := range found {
		full, err := tree.FullName(d.Code)
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %s\n", d.Code, full)
	}
	if _, err := io.WriteString(env.Stdout, b.String()); err != nil {
		return err
	}
	switch {
	case len(found) == 0:
		fmt.Fprintf(env.Stderr, "没有名称含“%s”的行政区划\n", fs.Arg(0))
	case more:
		fmt.Fprintf(env.Stderr, "只列出前 %d 条；用 -n 列出更多\n", *limit)
	}
	return nil
}
