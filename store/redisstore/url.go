package redisstore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/redis/go-redis/v9"
)

// The URL schemes of a Redis Cluster, without and with TLS; see [Open].
const (
	clusterScheme    = "redis+cluster"
	tlsClusterScheme = "rediss+cluster"
)

// newClient returns the client [Open] connects with on rawURL, and the
// address it names for errors (without the password). It does no I/O.
func newClient(rawURL string) (redis.UniversalClient, string, error) {
	scheme, _, _ := strings.Cut(rawURL, "://")
	if scheme == clusterScheme || scheme == tlsClusterScheme {
		opts, err := clusterOptions(rawURL)
		if err != nil {
			return nil, "", err
		}
		return redis.NewClusterClient(opts), strings.Join(opts.Addrs, ","), nil
	}
	opts, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, "", fmt.Errorf("redisstore: %w", err)
	}
	opts.ContextTimeoutEnabled = true
	opts.MaxRetries = -1
	return redis.NewClient(opts), opts.Addr, nil
}

// clusterOptions returns the options of the cluster client [Open] makes on
// rawURL: the URL's, with every call's deadline honoured and no retries
// (see [New]).
func clusterOptions(rawURL string) (*redis.ClusterOptions, error) {
	opts, err := parseClusterURL(rawURL)
	if err != nil {
		return nil, err
	}
	opts.ContextTimeoutEnabled = true
	opts.MaxRetries = -1
	opts.MaxRedirects = -1
	return opts, nil
}

// parseClusterURL reads a "redis+cluster://" or "rediss+cluster://" URL
// (see [Open]) into go-redis's cluster options, by way of the URL form
// [redis.ParseClusterURL] reads: the first seed as the host, the others
// as "addr" parameters.
func parseClusterURL(rawURL string) (*redis.ClusterOptions, error) {
	bad := func(format string, args ...any) (*redis.ClusterOptions, error) {
		return nil, fmt.Errorf("redisstore: cluster URL: "+format, args...)
	}
	scheme, rest, _ := strings.Cut(rawURL, "://")
	authority, tail := rest, ""
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority, tail = rest[:i], rest[i:]
	}
	if strings.Contains(tail, "#") {
		return bad("a fragment (#) has no meaning here")
	}
	path, query, _ := strings.Cut(tail, "?")
	if path != "" && path != "/" && path != "/0" {
		return bad("path %q: a cluster has database 0 only", path)
	}
	userinfo, hosts := "", authority
	if i := strings.LastIndexByte(authority, '@'); i >= 0 {
		userinfo, hosts = authority[:i+1], authority[i+1:]
	}
	if hosts == "" {
		return bad("no seed node: want %s://host1:port1,host2:port2/", scheme)
	}
	addrs := strings.Split(hosts, ",")
	for _, a := range addrs {
		if h, p, err := net.SplitHostPort(a); err != nil || h == "" || p == "" {
			return bad("seed node %q: want host:port", a)
		}
	}
	params, err := url.ParseQuery(query)
	if err != nil {
		return bad("%w", err)
	}
	if params.Has("addr") {
		return bad("name the seed nodes in the host, separated by commas, not as addr parameters")
	}
	for _, a := range addrs[1:] {
		params.Add("addr", a)
	}
	goScheme := "redis"
	if scheme == tlsClusterScheme {
		goScheme = "rediss"
	}
	opts, err := redis.ParseClusterURL(goScheme + "://" + userinfo + addrs[0] + "?" + params.Encode())
	if err != nil {
		return bad("%w", err)
	}
	return opts, nil
}

// ping checks that client answers: a single server, or every master of a
// cluster (loading the cluster's slots on the way).
func ping(ctx context.Context, client redis.UniversalClient) error {
	cluster, ok := client.(*redis.ClusterClient)
	if !ok {
		return client.Ping(ctx).Err()
	}
	err := cluster.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
		if err := node.Ping(ctx).Err(); err != nil {
			return fmt.Errorf("%s: %w", node.Options().Addr, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	// A cluster whose slots nobody serves answers pings but refuses keys.
	info, err := cluster.ClusterInfo(ctx).Result()
	if err != nil {
		return err
	}
	if !strings.Contains(info, "cluster_state:ok") {
		return errors.New("the cluster's state is not ok (CLUSTER INFO)")
	}
	return nil
}
