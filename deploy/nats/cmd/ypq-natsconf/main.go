// Command ypq-natsconf writes the regional NATS server configuration for Yipanqi nodes.
//
//	go run ./deploy/nats/cmd/ypq-natsconf -passwords region-passwords.txt -out nats.conf
//
// The passwords file has lines "user password" (users "region" and "node<code>"). Users
// missing from it get a random password, written with the others to the file named by
// -new-passwords (mode 0600) for the region to hand to each node; only bcrypt hashes go into
// the configuration. The sample deploy/nats/yipanqi.conf is made from the demo passwords:
//
//	go run ./deploy/nats/cmd/ypq-natsconf -passwords deploy/nats/demo-passwords.txt -out deploy/nats/yipanqi.conf
package main

import (
	"bytes"
	"crypto/rand"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"

	"yipanqi"
	"yipanqi/deploy/nats/natsconf"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "ypq-natsconf:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("ypq-natsconf", flag.ContinueOnError)
	nodes := fs.String("nodes", strings.Join(yipanqi.RegionCodes(), ","), "node codes, comma-separated")
	pwFile := fs.String("passwords", "", "file of \"user password\" lines")
	newPw := fs.String("new-passwords", "", "file to write every user's password to when some are generated")
	out := fs.String("out", "", "configuration file to write (default standard output)")
	name := fs.String("server-name", natsconf.DefaultServerName, "server_name")
	listen := fs.String("listen", natsconf.DefaultListen, "client listen address")
	store := fs.String("store-dir", natsconf.DefaultStoreDir, "JetStream store directory")
	if err := fs.Parse(args); err != nil {
		return err
	}

	passwords := map[string]string{}
	if *pwFile != "" {
		f, err := os.Open(*pwFile)
		if err != nil {
			return err
		}
		passwords, err = natsconf.ReadPasswords(f)
		f.Close()
		if err != nil {
			return err
		}
	}
	users := []string{natsconf.AdminUser}
	var codes []string
	for _, c := range strings.Split(*nodes, ",") {
		if c = strings.TrimSpace(c); c != "" {
			codes = append(codes, c)
			users = append(users, natsconf.NodeUser(c))
		}
	}
	generated := false
	for _, u := range users {
		if passwords[u] == "" {
			passwords[u] = rand.Text()
			generated = true
		}
	}
	if generated {
		if *newPw == "" {
			return fmt.Errorf("some users have no password: give -new-passwords FILE to generate them")
		}
		var b bytes.Buffer
		keys := make([]string, 0, len(passwords))
		for u := range passwords {
			keys = append(keys, u)
		}
		sort.Strings(keys)
		for _, u := range keys {
			fmt.Fprintf(&b, "%s %s\n", u, passwords[u])
		}
		if err := os.WriteFile(*newPw, b.Bytes(), 0o600); err != nil {
			return err
		}
	}

	c := natsconf.Config{ServerName: *name, Listen: *listen, StoreDir: *store}
	var err error
	if c.AdminHash, err = natsconf.HashPassword(passwords[natsconf.AdminUser]); err != nil {
		return fmt.Errorf("user %s: %w", natsconf.AdminUser, err)
	}
	for _, code := range codes {
		h, err := natsconf.HashPassword(passwords[natsconf.NodeUser(code)])
		if err != nil {
			return fmt.Errorf("user %s: %w", natsconf.NodeUser(code), err)
		}
		c.Nodes = append(c.Nodes, natsconf.Node{Code: code, Hash: h})
	}
	var b bytes.Buffer
	if err := natsconf.Generate(&b, c); err != nil {
		return err
	}
	if *out == "" {
		_, err = os.Stdout.Write(b.Bytes())
		return err
	}
	return os.WriteFile(*out, b.Bytes(), 0o644)
}
