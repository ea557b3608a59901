//go:build !linux

package ingest

import "github.com/zeebo/xxh3"

// adviseHugePages is a no-op where the kernel has no madvise huge pages.
func adviseHugePages([]xxh3.Uint128) {}
