// Package natsembed runs a NATS server with JetStream inside the yipanqi process: the
// default for a single node (yipanqi serve with [nats] embedded = true) and for the
// whole-region demo. Production points nodes at a real NATS cluster instead.
package natsembed

import (
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"yipanqi"
)

// Options say where the server listens and keeps its store.
type Options struct {
	// Host and Port to listen on; Host defaults to 127.0.0.1, Port 0 picks a free port.
	Host string
	Port int
	// StoreDir holds the JetStream store (the server adds a "jetstream" folder below it).
	// Required: messages must survive a restart.
	StoreDir string
	// Name is the server's name; default "yipanqi".
	Name string
	// MaxStore bounds the JetStream file store in bytes; default 1 GiB.
	MaxStore int64
}

// readyTimeout bounds the wait for the server to accept clients.
const readyTimeout = 20 * time.Second

// Start starts the server and waits until it accepts clients. Shut it down with Shutdown.
// EINVALID when the address is taken or the store directory cannot be used.
func Start(o Options) (*server.Server, error) {
	if o.StoreDir == "" {
		return nil, yipanqi.FieldErrorf(yipanqi.EINVALID, "store_dir", "内嵌 NATS 服务器缺少存储目录")
	}
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	if o.Port == 0 {
		o.Port = server.RANDOM_PORT
	}
	if o.Name == "" {
		o.Name = "yipanqi"
	}
	if o.MaxStore <= 0 {
		o.MaxStore = 1 << 30
	}
	if o.Port > 0 {
		// The server only logs a bind failure; check first so the caller gets an error.
		l, err := net.Listen("tcp", net.JoinHostPort(o.Host, strconv.Itoa(o.Port)))
		if err != nil {
			return nil, yipanqi.FieldErrorf(yipanqi.EINVALID, "listen", "内嵌 NATS 服务器无法监听 %s：%v",
				net.JoinHostPort(o.Host, strconv.Itoa(o.Port)), err)
		}
		l.Close()
	}
	s, err := server.NewServer(&server.Options{
		ServerName:         o.Name,
		Host:               o.Host,
		Port:               o.Port,
		JetStream:          true,
		StoreDir:           o.StoreDir,
		NoLog:              true,
		NoSigs:             true,
		JetStreamMaxMemory: 64 << 20,
		JetStreamMaxStore:  o.MaxStore,
	})
	if err != nil {
		return nil, yipanqi.FieldErrorf(yipanqi.EINVALID, "nats", "内嵌 NATS 服务器配置有误：%v", err)
	}
	go s.Start()
	if !s.ReadyForConnections(readyTimeout) {
		s.Shutdown()
		return nil, fmt.Errorf("natsembed: server on %s:%d not ready after %v", o.Host, o.Port, readyTimeout)
	}
	if !s.JetStreamEnabled() {
		s.Shutdown()
		return nil, yipanqi.FieldErrorf(yipanqi.EINVALID, "store_dir", "内嵌 NATS 服务器未能在 %s 启用 JetStream", o.StoreDir)
	}
	return s, nil
}

// Shutdown stops the server and waits until it has stopped.
func Shutdown(s *server.Server) {
	s.Shutdown()
	s.WaitForShutdown()
}
