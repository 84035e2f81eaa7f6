package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"yipanqi"
	"yipanqi/meeting"
)

func init() {
	moreCommands["meeting"] = command{"区域联席会议：meeting rotation | list | add | minutes | follow", runMeeting}
}

const meetingUsage = `用法：
  yipanqi meeting rotation [--from 年份] [--years N] [--order 44,35,…] [--first-year 2026]
      轮值召集省份：默认按规划所列顺序（广东、福建、江西、湖北、湖南、广西、海南、贵州、重庆、四川、云南），2026 年起。
  yipanqi meeting list [--db DSN] [--year 年份]
      联席会议及其决议，和跟进每项决议的省际会商案件的状态。
  yipanqi meeting add [--db DSN] --as 用户名 --year 年份 --date YYYY-MM-DD --agenda 议程 [--host 省代码] [--place 地点]
                      [--decision "决议内容|牵头省|会商对方省"]…
      登记一次联席会议（召集省份默认按轮值），须由省级单位用户录入，记入审计日志。
  yipanqi meeting minutes [--db DSN] --as 用户名 --id 会议编号 --text 纪要
  yipanqi meeting follow [--db DSN] --as 用户名 --resolution 决议编号 --case 会商案件编号
      记录跟进决议的省际会商案件（consult.case，经交换发出的去件）。
  --order/--first-year 也可由环境变量 YIPANQI_MEETING_ORDER、YIPANQI_MEETING_FIRST_YEAR 给出。`

// strList is a repeatable string flag.
type strList []string

func (l *strList) String() string     { return strings.Join(*l, ";") }
func (l *strList) Set(v string) error { *l = append(*l, v); return nil }

func runMeeting(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(env.Stdout, meetingUsage)
		return nil
	}
	sub := args[0]
	fs := flag.NewFlagSet("meeting "+sub, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dsn := dbFlag(fs, env)
	as := fs.String("as", "", "")
	order := fs.String("order", env.Getenv("YIPANQI_MEETING_ORDER"), "")
	firstYear := fs.String("first-year", env.Getenv("YIPANQI_MEETING_FIRST_YEAR"), "")
	from := fs.Int("from", env.Now().Year(), "")
	years := fs.Int("years", 11, "")
	year := fs.Int("year", 0, "")
	date := fs.String("date", "", "")
	agenda := fs.String("agenda", "", "")
	host := fs.String("host", "", "")
	place := fs.String("place", "", "")
	text := fs.String("text", "", "")
	id := fs.Int64("id", 0, "")
	resolution := fs.Int64("resolution", 0, "")
	caseID := fs.String("case", "", "")
	var resolutions strList
	fs.Var(&resolutions, "decision", "")
	rest, err := regParseFlags(fs, args[1:], meetingUsage)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageError("多余的参数“%s”\n%s", rest[0], meetingUsage)
	}
	rot := meeting.DefaultRotation()
	if *order != "" || *firstYear != "" {
		fy := rot.FirstYear
		if *firstYear != "" {
			if fy, err = strconv.Atoi(*firstYear); err != nil {
				return usageError("--first-year“%s”无效：应为年份", *firstYear)
			}
		}
		o := *order
		if o == "" {
			o = strings.Join(yipanqi.RegionCodes(), ",")
		}
		if rot, err = meeting.ParseRotation(o, fy); err != nil {
			return exitCode(2, err)
		}
	}
	if sub == "rotation" {
		if *years < 1 || *years > 100 {
			return usageError("--years 应为 1–100")
		}
		for y := *from; y < *from+*years; y++ {
			fmt.Fprintf(env.Stdout, "%d\t%s\t%s\n", y, rot.Host(y), yipanqi.ProvinceName(rot.Host(y)))
		}
		return nil
	}
	if sub != "list" && sub != "add" && sub != "minutes" && sub != "follow" {
		return usageError("未知的子命令“%s”\n%s", sub, meetingUsage)
	}
	db, err := openStore(ctx, *dsn)
	if err != nil {
		return exitCode(2, err)
	}
	defer db.Close()
	db.Now = env.Now
	if sub == "list" {
		ms, err := db.Meetings(ctx, *year)
		if err != nil {
			return err
		}
		for _, m := range ms {
			fmt.Fprintf(env.Stdout, "第 %d 号 %s %s %s\n  议程：%s\n", m.ID, m.Label(), m.HeldOn, m.Place, m.Agenda)
			if m.Minutes != "" {
				fmt.Fprintf(env.Stdout, "  纪要：%s\n", m.Minutes)
			}
			for _, x := range m.Resolutions {
				follow := "未跟进"
				if x.CaseID != "" {
					follow = "会商案件 " + x.CaseID + "（" + string(x.CaseState) + "）"
				}
				fmt.Fprintf(env.Stdout, "  决议 %d（编号 %d）：%s —— %s牵头，与%s会商；%s\n", x.Seq, x.ID, x.Text,
					yipanqi.ProvinceName(x.Lead), yipanqi.ProvinceName(x.Counterpart), follow)
			}
		}
		return nil
	}
	if *as == "" {
		return usageError("缺少 --as（录入人的用户名）")
	}
	u, err := db.UserByName(ctx, *as)
	if err != nil {
		return exitCode(2, err)
	}
	uctx := yipanqi.NewContextWithUser(ctx, u)
	switch sub {
	case "add":
		d, err := yipanqi.ParseDate(*date)
		if err != nil {
			return usageError("--date“%s”无效：应为 YYYY-MM-DD", *date)
		}
		m := &meeting.Meeting{Year: *year, Host: *host, HeldOn: d, Place: *place, Agenda: *agenda}
		for _, s := range resolutions {
			p := strings.Split(s, "|")
			if len(p) != 3 {
				return usageError("--decision“%s”无效：应为 决议内容|牵头省代码|会商对方省代码", s)
			}
			m.Resolutions = append(m.Resolutions, &meeting.Resolution{Text: p[0], Lead: p[1], Counterpart: p[2]})
		}
		if err := db.CreateMeeting(uctx, rot, m); err != nil {
			return meetingErr(err)
		}
		fmt.Fprintf(env.Stdout, "已登记第 %d 号：%s，决议 %d 项\n", m.ID, m.Label(), len(m.Resolutions))
	case "minutes":
		if err := db.SetMinutes(uctx, *id, *text); err != nil {
			return meetingErr(err)
		}
		fmt.Fprintf(env.Stdout, "已记录第 %d 号会议纪要\n", *id)
	case "follow":
		if err := db.LinkResolutionCase(uctx, *resolution, *caseID); err != nil {
			return meetingErr(err)
		}
		fmt.Fprintf(env.Stdout, "决议 %d 由会商案件 %s 跟进\n", *resolution, *caseID)
	}
	return nil
}

// meetingErr gives bad input exit status 2.
func meetingErr(err error) error {
	switch yipanqi.ErrorCode(err) {
	case yipanqi.EINVALID, yipanqi.EFORBIDDEN, yipanqi.ENOTFOUND, yipanqi.ECONFLICT:
		return exitCode(2, err)
	}
	return err
}
