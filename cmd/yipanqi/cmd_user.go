package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"

	"yipanqi"
	"yipanqi/web"
)

func init() {
	moreCommands["user"] = command{"管理网页用户：user add 新增用户，user passwd 重设密码，user list 列出用户", runUser}
}

const userUsage = `用法：
  yipanqi user add    --db DSN --username 用户名 --unit 机构代码 --role 角色 [--name 显示名] [--password-file 文件]
  yipanqi user passwd --db DSN --username 用户名 [--password-file 文件]
  yipanqi user list   --db DSN [--unit 机构代码]
密码从标准输入读取第一行（或 --password-file 文件的第一行），至少 8 个字符；不要写在命令行上。
用户名只用小写字母、数字和 . _ -（3 到 32 个字符），不得含姓名、身份证号等个人信息。
角色：township_worker（乡镇街道工作人员）、county_supervisor（县级督办）、city_supervisor（市级督办）、
      province_supervisor（省级督办）、province_admin（省级管理员）、regional_observer（区域观察员）`

// validUsername: staff usernames are short ASCII names, never personal data.
var validUsername = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{2,31}$`)

func runUser(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 {
		return usageError("缺少子命令\n%s", userUsage)
	}
	switch args[0] {
	case "add":
		return userAdd(ctx, env, args[1:])
	case "passwd":
		return userPasswd(ctx, env, args[1:])
	case "list":
		return userList(ctx, env, args[1:])
	case "help", "-h", "--help":
		fmt.Fprintln(env.Stdout, userUsage)
		return nil
	}
	return usageError("未知子命令“%s”\n%s", args[0], userUsage)
}

// flagError is an error about one flag, named in the message.
func flagError(flag, format string, args ...any) error {
	return exitCode(2, yipanqi.FieldErrorf(yipanqi.EINVALID, flag, "--"+flag+"："+format, args...))
}

// readPassword reads the first line of the password file, or of stdin, and checks it.
func readPassword(env *Env, file string) (string, error) {
	var r io.Reader = env.Stdin
	name := "标准输入"
	if file != "" {
		f, err := os.Open(file)
		if err != nil {
			return "", flagError("password-file", "无法打开密码文件：%v", err)
		}
		defer f.Close()
		r, name = f, "密码文件"
	}
	line, err := bufio.NewReader(io.LimitReader(r, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", yipanqi.Errorf(yipanqi.EINVALID, "无法从%s读取密码：%v", name, err)
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", flagError("password-file", "没有读到密码：请从标准输入提供（如 echo 密码 | yipanqi user add …），或用 --password-file")
	}
	if err := web.CheckNewPassword(pw); err != nil {
		return "", flagError("password-file", "%s", yipanqi.ErrorMessage(err))
	}
	return pw, nil
}

func userAdd(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("user add", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	db := dbFlag(fs, env)
	username := fs.String("username", "", "")
	unit := fs.String("unit", "", "")
	role := fs.String("role", "", "")
	name := fs.String("name", "", "")
	pwFile := fs.String("password-file", "", "")
	rest, err := regParseFlags(fs, args, userUsage)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageError("多余的参数“%s”\n%s", strings.Join(rest, " "), userUsage)
	}
	switch {
	case *username == "":
		return flagError("username", "缺少用户名")
	case !validUsername.MatchString(*username):
		return flagError("username", "“%s”无效：只用小写字母、数字和 . _ -，3 到 32 个字符，以字母或数字开头", *username)
	case *unit == "":
		return flagError("unit", "缺少所属机构的行政区划代码，如 440106001")
	case !yipanqi.ValidDivisionCode(*unit):
		return flagError("unit", "“%s”不是 2、4、6、9 或 12 位数字的行政区划代码", *unit)
	case *role == "":
		return flagError("role", "缺少角色，可选：%s", roleList())
	case !slices.Contains(web.Roles, yipanqi.Role(*role)):
		return flagError("role", "“%s”不是角色，可选：%s", *role, roleList())
	case len([]rune(*name)) > 50:
		return flagError("name", "显示名不得超过 50 个字")
	}
	pw, err := readPassword(env, *pwFile)
	if err != nil {
		return err
	}
	hash, err := web.HashPassword(pw)
	if err != nil {
		return err
	}
	store, err := openStore(ctx, *db)
	if err != nil {
		return err
	}
	defer store.Close()
	if _, err := store.OrgUnit(ctx, *unit); yipanqi.ErrorCode(err) == yipanqi.ENOTFOUND {
		return flagError("unit", "机构“%s”不在本节点的机构表中（yipanqi serve 启动时按区划数据载入）", *unit)
	} else if err != nil {
		return err
	}
	u := &yipanqi.User{Username: *username, DisplayName: *name, OrgUnit: *unit, Role: yipanqi.Role(*role), PasswordHash: hash}
	if err := store.CreateUser(ctx, u); err != nil {
		if yipanqi.ErrorCode(err) == yipanqi.ECONFLICT {
			return flagError("username", "用户名“%s”已被使用", *username)
		}
		return err
	}
	ctx = yipanqi.NewContextWithUser(ctx, &yipanqi.User{Username: "system:cli", OrgUnit: *unit})
	if err := store.Audit(ctx, &yipanqi.AuditEntry{Actor: "system:cli", OrgUnit: *unit, Action: "user.add", Object: *username,
		Reason: "角色 " + *role}); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "已新增用户 %s（%s，机构 %s）\n", *username, web.RoleLabel(u.Role), *unit)
	return nil
}

func roleList() string {
	s := make([]string, len(web.Roles))
	for i, r := range web.Roles {
		s[i] = string(r) + "（" + web.RoleLabel(r) + "）"
	}
	return strings.Join(s, "、")
}

func userPasswd(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("user passwd", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	db := dbFlag(fs, env)
	username := fs.String("username", "", "")
	pwFile := fs.String("password-file", "", "")
	if _, err := regParseFlags(fs, args, userUsage); err != nil {
		return err
	}
	if *username == "" {
		return flagError("username", "缺少用户名")
	}
	pw, err := readPassword(env, *pwFile)
	if err != nil {
		return err
	}
	store, err := openStore(ctx, *db)
	if err != nil {
		return err
	}
	defer store.Close()
	u, err := store.UserByName(ctx, *username)
	if yipanqi.ErrorCode(err) == yipanqi.ENOTFOUND {
		return flagError("username", "没有用户“%s”", *username)
	} else if err != nil {
		return err
	}
	hash, err := web.HashPassword(pw)
	if err != nil {
		return err
	}
	ctx = yipanqi.NewContextWithUser(ctx, &yipanqi.User{Username: "system:cli", OrgUnit: u.OrgUnit})
	if err := store.SetPassword(ctx, u.ID, hash, ""); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "已重设用户 %s 的密码，并结束其全部登录会话\n", *username)
	return nil
}

func userList(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("user list", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	db := dbFlag(fs, env)
	unit := fs.String("unit", "", "")
	if _, err := regParseFlags(fs, args, userUsage); err != nil {
		return err
	}
	store, err := openStore(ctx, *db)
	if err != nil {
		return err
	}
	defer store.Close()
	var users []*yipanqi.User
	if *unit == "" {
		for p := 10; p <= 99; p++ {
			scope, _ := yipanqi.NewScope(fmt.Sprintf("%02d", p))
			us, err := store.ListUsers(ctx, scope)
			if err != nil {
				return err
			}
			users = append(users, us...)
		}
	} else {
		scope, err := yipanqi.NewScope(*unit)
		if err != nil {
			return flagError("unit", "“%s”不是行政区划代码", *unit)
		}
		if users, err = store.ListUsers(ctx, scope); err != nil {
			return err
		}
	}
	for _, u := range users {
		state := ""
		if u.Disabled {
			state = "（已停用）"
		}
		fmt.Fprintf(env.Stdout, "%-28s %-12s %s %s%s\n", u.Username, u.OrgUnit, web.RoleLabel(u.Role), u.DisplayName, state)
	}
	return nil
}
