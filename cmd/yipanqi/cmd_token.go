package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"yipanqi"
	"yipanqi/sqlstore"
	"yipanqi/web"
)

func init() {
	moreCommands["token"] = command{"JSON API 令牌：token add 新增（只显示一次），token revoke 吊销，token list 列出", runToken}
}

const tokenUsage = `用法：
  yipanqi token add    --db DSN --user 用户名 [--label 用途说明]
  yipanqi token revoke --db DSN --id 令牌编号
  yipanqi token list   --db DSN --user 用户名
令牌属于一个用户，以该用户的管辖范围和角色调用 /api/v1（见 docs/api.md）。
令牌只在新增时显示一次；数据库只保存其 SHA-256，遗失只能吊销后重新新增。`

func runToken(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 {
		return usageError("缺少子命令\n%s", tokenUsage)
	}
	switch args[0] {
	case "add":
		return tokenAdd(ctx, env, args[1:])
	case "revoke":
		return tokenRevoke(ctx, env, args[1:])
	case "list":
		return tokenList(ctx, env, args[1:])
	case "help", "-h", "--help":
		fmt.Fprintln(env.Stdout, tokenUsage)
		return nil
	}
	return usageError("未知子命令“%s”\n%s", args[0], tokenUsage)
}

// cliActor is who the audit log names for what the command line does.
func cliActor(ctx context.Context, unit string) context.Context {
	return yipanqi.NewContextWithUser(ctx, &yipanqi.User{Username: "system:cli", OrgUnit: unit})
}

func tokenAdd(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("token add", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	db := dbFlag(fs, env)
	user := fs.String("user", "", "")
	label := fs.String("label", "", "")
	rest, err := regParseFlags(fs, args, tokenUsage)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageError("多余的参数“%s”\n%s", strings.Join(rest, " "), tokenUsage)
	}
	if *user == "" {
		return flagError("user", "缺少令牌所属的用户名")
	}
	if len([]rune(*label)) > 100 {
		return flagError("label", "用途说明不得超过 100 个字")
	}
	store, err := openStore(ctx, *db)
	if err != nil {
		return err
	}
	defer store.Close()
	u, err := store.UserByName(ctx, *user)
	if yipanqi.ErrorCode(err) == yipanqi.ENOTFOUND {
		return flagError("user", "没有用户“%s”", *user)
	} else if err != nil {
		return err
	}
	if u.Disabled {
		return flagError("user", "用户“%s”已停用，其令牌不能使用", *user)
	}
	token, hash := web.NewAPIToken()
	t := &sqlstore.APIToken{TokenHash: hash, UserID: u.ID, Label: *label}
	if err := store.CreateAPIToken(cliActor(ctx, u.OrgUnit), t); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "%s\n", token)
	fmt.Fprintf(env.Stderr, "已为用户 %s（%s，机构 %s）新增令牌，编号 %d。令牌只显示这一次，请妥善保存；吊销：yipanqi token revoke --id %d\n",
		u.Username, web.RoleLabel(u.Role), u.OrgUnit, t.ID, t.ID)
	return nil
}

func tokenRevoke(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("token revoke", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	db := dbFlag(fs, env)
	idText := fs.String("id", "", "")
	if _, err := regParseFlags(fs, args, tokenUsage); err != nil {
		return err
	}
	id, err := strconv.ParseInt(*idText, 10, 64)
	if err != nil || id <= 0 {
		return flagError("id", "缺少或无效的令牌编号（token add 时显示，token list 可查）")
	}
	store, err := openStore(ctx, *db)
	if err != nil {
		return err
	}
	defer store.Close()
	switch err := store.RevokeAPIToken(cliActor(ctx, ""), id); yipanqi.ErrorCode(err) {
	case "":
	case yipanqi.ENOTFOUND, yipanqi.ECONFLICT:
		return flagError("id", "%s", yipanqi.ErrorMessage(err))
	default:
		return err
	}
	fmt.Fprintf(env.Stdout, "已吊销令牌 %d\n", id)
	return nil
}

func tokenList(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("token list", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	db := dbFlag(fs, env)
	user := fs.String("user", "", "")
	if _, err := regParseFlags(fs, args, tokenUsage); err != nil {
		return err
	}
	if *user == "" {
		return flagError("user", "缺少用户名")
	}
	store, err := openStore(ctx, *db)
	if err != nil {
		return err
	}
	defer store.Close()
	u, err := store.UserByName(ctx, *user)
	if yipanqi.ErrorCode(err) == yipanqi.ENOTFOUND {
		return flagError("user", "没有用户“%s”", *user)
	} else if err != nil {
		return err
	}
	tokens, err := store.APITokens(ctx, u.ID)
	if err != nil {
		return err
	}
	for _, t := range tokens {
		state := "有效"
		if !t.RevokedAt.IsZero() {
			state = "已吊销于 " + t.RevokedAt.Format("2006-01-02 15:04Z")
		}
		fmt.Fprintf(env.Stdout, "%-6d %s  %s  %s\n", t.ID, t.CreatedAt.Format("2006-01-02 15:04Z"), state, t.Label)
	}
	return nil
}
