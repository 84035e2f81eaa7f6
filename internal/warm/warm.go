package warm

import (
	_ "github.com/6tail/lunar-go/HolidayUtil"
	_ "github.com/BurntSushi/toml"
	_ "github.com/emmansun/gmsm/sm2"
	_ "github.com/google/uuid"
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "github.com/nats-io/nats-server/v2/server"
	_ "github.com/nats-io/nats.go/jetstream"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/schollz/progressbar/v3"
	_ "github.com/xuri/excelize/v2"
	_ "golang.org/x/term"
	_ "golang.org/x/text/encoding/simplifiedchinese"
	_ "modernc.org/sqlite"
)
