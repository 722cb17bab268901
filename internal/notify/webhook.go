package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Webhook posts each alert, and each digest, as JSON to a URL.
type Webhook struct {
	URL string `yaml:"url"`
	// Headers are added to every request (Authorization: Bearer ...).
	Headers map[string]string `yaml:"headers"`
	// Timeout bounds one attempt (default 10s).
	Timeout time.Duration `yaml:"timeout"`
	// Attempts is the most tries of one message (default 4); a network
	// error, a 5xx or a 429 answer is tried again.
	Attempts int `yaml:"attempts"`
	// Backoff is the wait before the second try (default 1s), doubled
	// before each next one.
	Backoff time.Duration `yaml:"backoff"`
}

func (w *Webhook) validate() error {
	u, err := url.Parse(w.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("url %q: want an http or https URL", w.URL)
	}
	for k, v := range w.Headers {
		if k == "" || strings.ContainsAny(k, " :\r\n\t") || strings.ContainsAny(v, "\r\n") {
			return fmt.Errorf("header %q: bad name or value", k)
		}
	}
	if w.Timeout < 0 || w.Backoff < 0 || w.Attempts < 0 || w.Attempts > 20 {
		return errors.New("timeout and backoff must not be negative, attempts 0 to 20")
	}
	return nil
}

// host names the webhook in logs: the URL's host only, as its path often
// holds a secret.
func (w *Webhook) host() string {
	if u, err := url.Parse(w.URL); err == nil {
		return u.Host
	}
	return "?"
}

type webhook struct {
	cfg    Webhook
	client *http.Client
}

func newWebhook(cfg Webhook) *webhook {
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Attempts == 0 {
		cfg.Attempts = 4
	}
	if cfg.Backoff == 0 {
		cfg.Backoff = time.Second
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 1
	return &webhook{cfg: cfg, client: &http.Client{
		Transport: tr,
		// A redirect would turn the POST into a GET: it is an error.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// The JSON the webhook receives: "type" says which; "text" is a line for
// chat services (Slack, Mattermost) that show it as it is.
type alertPayload struct {
	Type string `json:"type"` // alert
	Text string `json:"text"`
	Alert
}

type digestPayload struct {
	Type string `json:"type"` // digest
	Text string `json:"text"`
	Digest
}

func (h *webhook) alerts(ctx context.Context, batch []Alert) error {
	var errs []error
	for _, a := range batch {
		text := a.Title
		if a.Severity != "" {
			text += " (" + a.Severity + ")"
		}
		if a.Summary != "" {
			text += ": " + a.Summary
		}
		if err := h.post(ctx, alertPayload{Type: "alert", Text: text, Alert: a}); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (h *webhook) digest(ctx context.Context, d Digest) error {
	return h.post(ctx, digestPayload{Type: "digest", Text: strings.Join(d.Lines(), "\n"), Digest: d})
}

func (h *webhook) post(ctx context.Context, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("notify: webhook: %w", err)
	}
	wait := h.cfg.Backoff
	for try := 1; ; try++ {
		retry, err := h.try(ctx, body)
		if err == nil {
			return nil
		}
		if !retry || try >= h.cfg.Attempts || ctx.Err() != nil {
			return fmt.Errorf("notify: webhook: %w", err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("notify: webhook: %w", err)
		case <-t.C:
		}
		wait = min(2*wait, time.Minute)
	}
}

// try makes one attempt; retry says whether another may succeed.
func (h *webhook) try(ctx context.Context, body []byte) (retry bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, h.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "smallpot")
	for k, v := range h.cfg.Headers {
		req.Header.Set(k, v)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		// Not the url.Error: the URL's path often holds a secret, and the
		// error goes to the logs.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return true, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return false, nil
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return true, fmt.Errorf("status %d", resp.StatusCode)
	}
	return false, fmt.Errorf("status %d", resp.StatusCode)
}

func (h *webhook) close() error {
	h.client.CloseIdleConnections()
	return nil
}
