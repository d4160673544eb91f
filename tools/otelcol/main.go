// Command otelcol is a minimal OpenTelemetry Collector distribution for the coherence service's tests.
//
// It is built from the collector's own modules (go.opentelemetry.io/collector/otelcol v0.165.0): the stock OTLP
// receiver (the component the Worker's OTLP/HTTP exporter talks to in production) feeds a small "capture"
// exporter that keeps every received span in memory and serves it back as OTLP JSON on a loopback HTTP port, so
// a test can read what arrived. Contrib's fileexporter would do the same through a file, but on this project's
// Go module proxy it only resolves at an older collector release (v0.161.0) than the one pinned here, and the
// collector's modules must stay at one release.
//
// Usage: otelcol --config=/path/to/config.yaml (scripts/lib/otelcol.mjs writes the config and starts it).
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/provider/envprovider"
	"go.opentelemetry.io/collector/confmap/provider/fileprovider"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/otelcol"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/receiver/otlpreceiver"
	"go.opentelemetry.io/collector/service/telemetry/otelconftelemetry"
)

func main() {
	settings := otelcol.CollectorSettings{
		BuildInfo: component.BuildInfo{
			Command:     "otelcol",
			Description: "coherence-service test collector (OTLP receiver + capture exporter)",
			Version:     "0.165.0",
		},
		Factories: components,
		ConfigProviderSettings: otelcol.ConfigProviderSettings{
			ResolverSettings: confmap.ResolverSettings{
				// ${VAR} in a config is an environment variable (the collector's default scheme is env).
				ProviderFactories: []confmap.ProviderFactory{fileprovider.NewFactory(), envprovider.NewFactory()},
			},
		},
	}
	if err := otelcol.NewCommand(settings).Execute(); err != nil {
		log.Fatal(err)
	}
}

func components() (otelcol.Factories, error) {
	receivers, err := otelcol.MakeFactoryMap(otlpreceiver.NewFactory())
	if err != nil {
		return otelcol.Factories{}, err
	}
	exporters, err := otelcol.MakeFactoryMap(newCaptureFactory())
	if err != nil {
		return otelcol.Factories{}, err
	}
	return otelcol.Factories{
		Receivers: receivers,
		Exporters: exporters,
		Telemetry: otelconftelemetry.NewFactory(),
	}, nil
}

// captureConfig configures the capture exporter.
type captureConfig struct {
	// Endpoint is the loopback host:port where received spans are served.
	Endpoint string `mapstructure:"endpoint"`
}

// Validate refuses anything but a loopback address: the captured spans are for the local test only.
func (c *captureConfig) Validate() error {
	host, _, err := net.SplitHostPort(c.Endpoint)
	if err != nil {
		return fmt.Errorf("capture endpoint %q: %w", c.Endpoint, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("capture endpoint %q must be a loopback IP address", c.Endpoint)
	}
	return nil
}

var captureType = component.MustNewType("capture")

func newCaptureFactory() exporter.Factory {
	return exporter.NewFactory(
		captureType,
		func() component.Config { return &captureConfig{Endpoint: "127.0.0.1:0"} },
		exporter.WithTraces(createCaptureTraces, component.StabilityLevelDevelopment),
	)
}

// capture keeps every span it is given, in arrival order, and serves them over HTTP.
type capture struct {
	endpoint string
	mu       sync.Mutex
	traces   ptrace.Traces
	server   *http.Server
}

func createCaptureTraces(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Traces, error) {
	c := &capture{endpoint: cfg.(*captureConfig).Endpoint, traces: ptrace.NewTraces()}
	// No queue and no retry: the receiver's HTTP answer is sent after consume returns, so spans are readable
	// here as soon as the sender's POST has succeeded.
	return exporterhelper.NewTraces(ctx, set, cfg, c.consume,
		exporterhelper.WithStart(c.start),
		exporterhelper.WithShutdown(c.shutdown),
	)
}

func (c *capture) consume(_ context.Context, td ptrace.Traces) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	// The pipeline may share td with other consumers: copy, never move.
	for i := 0; i < td.ResourceSpans().Len(); i++ {
		td.ResourceSpans().At(i).CopyTo(c.traces.ResourceSpans().AppendEmpty())
	}
	return nil
}

func (c *capture) start(_ context.Context, _ component.Host) error {
	ln, err := net.Listen("tcp", c.endpoint)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
	})
	// Everything received so far as one OTLP/JSON ExportTraceServiceRequest (hex ids, as on the wire).
	mux.HandleFunc("GET /v1/traces", func(w http.ResponseWriter, _ *http.Request) {
		c.mu.Lock()
		body, err := (&ptrace.JSONMarshaler{}).MarshalTraces(c.traces)
		c.mu.Unlock()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("content-type", "application/json")
		_, _ = w.Write(body)
	})
	mux.HandleFunc("DELETE /v1/traces", func(w http.ResponseWriter, _ *http.Request) {
		c.mu.Lock()
		c.traces = ptrace.NewTraces()
		c.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})
	c.server = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := c.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Printf("capture exporter: %v", err)
		}
	}()
	return nil
}

func (c *capture) shutdown(ctx context.Context) error {
	if c.server == nil {
		return nil
	}
	return c.server.Shutdown(ctx)
}
