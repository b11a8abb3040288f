package config

import (
	"log/slog"

	"go.yaml.in/yaml/v3"
)

// LogFormat is how log records are written.
type LogFormat string

// Log formats.
const (
	LogText LogFormat = "text" // slog's key=value text handler
	LogJSON LogFormat = "json" // one JSON object per line
)

// Log is the log section: what the daemon logs and how.
type Log struct {
	Level  slog.Level `key:"level"`  // default info
	Format LogFormat  `key:"format"` // default text
}

var logLevels = map[string]slog.Level{
	"debug": slog.LevelDebug,
	"info":  slog.LevelInfo,
	"warn":  slog.LevelWarn,
	"error": slog.LevelError,
}

func decodeLog(d *decoder, n *yaml.Node, c *Config) {
	c.Log = Log{Level: slog.LevelInfo, Format: LogText}
	if n == nil {
		return
	}
	m, _ := d.mapping(n, "log", []string{"level", "format"})
	if v := m.get("level"); v != nil {
		if s, ok := d.enum(v, "log.level", "debug", "info", "warn", "error"); ok {
			c.Log.Level = logLevels[s]
		}
	}
	if v := m.get("format"); v != nil {
		if s, ok := d.enum(v, "log.format", "text", "json"); ok {
			c.Log.Format = LogFormat(s)
		}
	}
}
