//go:build !linux

package prealloc

import (
	"errors"
	"os"
)

var errUnsupported = errors.New("prealloc: not supported here")

func reserve(*os.File, int64, int64) error { return errUnsupported }

func permanent(error) bool { return true }
