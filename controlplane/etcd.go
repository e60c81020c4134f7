package controlplane

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// CompactStorage writes one key to etcd (outside the API server's prefix)
// and then compacts etcd's history to that write's revision, as a
// production cluster's periodic compaction does. Every watch or list from
// an older resource version then gets 410 Gone, from the API server's watch
// cache or from etcd itself, whichever serves it. It returns the revision
// compacted to. It works while the API server is stopped, which is how a
// test forces a re-list after StartAPIServer rather than hoping the API
// server's own start-up writes moved the revision far enough.
func (c *ControlPlane) CompactStorage(ctx context.Context) (int64, error) {
	key := base64.StdEncoding.EncodeToString([]byte("/optel-controlplane/compaction-marker"))
	val := base64.StdEncoding.EncodeToString([]byte(strconv.FormatInt(time.Now().UnixNano(), 10)))
	var put struct {
		Header struct {
			Revision string `json:"revision"`
		} `json:"header"`
	}
	if err := c.etcdCall(ctx, "/v3/kv/put", map[string]any{"key": key, "value": val}, &put); err != nil {
		return 0, fmt.Errorf("controlplane: compact storage: put marker: %w", err)
	}
	rev, err := strconv.ParseInt(put.Header.Revision, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("controlplane: compact storage: etcd answered revision %q: %w", put.Header.Revision, err)
	}
	if err := c.etcdCall(ctx, "/v3/kv/compaction", map[string]any{"revision": strconv.FormatInt(rev, 10), "physical": true}, nil); err != nil {
		return 0, fmt.Errorf("controlplane: compact storage to revision %d: %w", rev, err)
	}
	return rev, nil
}

// etcdCall posts a request to etcd's JSON gateway (served on the client URL).
func (c *ControlPlane) etcdCall(ctx context.Context, path string, body, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.etcdURL+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("etcd %s: %s: %s", path, resp.Status, bytes.TrimSpace(raw))
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("etcd %s: decode %q: %w", path, raw, err)
	}
	return nil
}
