package main

import (
	"context"
	"fmt"

	"yipanqi"
	"yipanqi/idcard"
)

const idcardUsage = `用法：
  yipanqi idcard check ID...    校验公民身份号码（18 位，或 15 位旧号码），每个号码输出一行：
                                ID ok 18位号码 出生日期 性别   或   ID invalid: 原因
有号码无效时退出码为 1。`

// runIDCard checks resident ID numbers given on the command line.
func runIDCard(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 {
		return usageError("缺少子命令\n%s", idcardUsage)
	}
	switch args[0] {
	case "check":
		return idcardCheck(env, args[1:])
	case "help", "-h", "--help":
		fmt.Fprintln(env.Stdout, idcardUsage)
		return nil
	}
	return usageError("未知子命令“%s”\n%s", args[0], idcardUsage)
}

// idcardCheck prints one line per argument, as given; "today" (the upper bound of a birth date)
// is the current date in Asia/Shanghai.
func idcardCheck(env *Env, args []string) error {
	if len(args) == 0 {
		return usageError("idcard check 缺少参数 ID（公民身份号码）\n%s", idcardUsage)
	}
	today := yipanqi.DateOf(env.Now().In(yipanqi.Shanghai))
	bad := 0
	for _, arg := range args {
		id, err := idcard.Parse(arg, today)
		if err != nil {
			bad++
			fmt.Fprintf(env.Stdout, "%s invalid: %s\n", arg, yipanqi.ErrorMessage(err))
			continue
		}
		fmt.Fprintf(env.Stdout, "%s ok %s %s %s\n", arg, id.Number, id.Birth, id.Sex.Label())
	}
	if bad > 0 {
		// Each reason is already on its line.
		return exitCode(1, nil)
	}
	return nil
}
